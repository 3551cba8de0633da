package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Page size limits. The API validates sizes; these keep the store safe when
// a caller does not.
const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxPageNumber   = 1 << 31
)

type fieldKind int

const (
	textField fieldKind = iota
	timeField           // BIGINT microseconds; filters take RFC 3339 values
)

// field maps a public list field name to a fixed SQL expression.
type field struct {
	expr string
	kind fieldKind
}

// listSpec is the allow-list of one List method.
type listSpec struct {
	fields      map[string]field
	defaultSort string // public field name, "-" prefixed for descending
	tieBreak    string // SQL expression making the order total
}

var (
	userList = listSpec{
		fields: map[string]field{
			"email":      {"u.email", textField},
			"first_name": {"u.first_name", textField},
			"last_name":  {"u.last_name", textField},
			"created_at": {"u.created_at", timeField},
		},
		defaultSort: "created_at",
		tieBreak:    "u.id",
	}
	clientList = listSpec{
		fields: map[string]field{
			"name":       {"c.name", textField},
			"id":         {"c.id", textField},
			"created_at": {"c.created_at", timeField},
		},
		defaultSort: "created_at",
		tieBreak:    "c.id",
	}
	grantList = listSpec{
		fields: map[string]field{
			"name":         {"c.name", textField},
			"client_id":    {"g.client_id", textField},
			"created_at":   {"g.created_at", timeField},
			"last_used_at": {"g.last_used_at", timeField},
		},
		defaultSort: "-created_at",
		tieBreak:    "g.id",
	}
	eventList = listSpec{
		fields: map[string]field{
			"type":      {"e.type", textField},
			"user_id":   {"e.user_id", textField},
			"client_id": {"e.client_id", textField},
			"time":      {"e.time", timeField},
		},
		defaultSort: "-time",
		tieBreak:    "e.id",
	}
)

// likeEscaper escapes LIKE's wildcards and its escape character, so that a
// "contains" value matches literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// listQuery turns opt into SQL fragments: conditions to AND into the WHERE
// clause (values bound through a), the ORDER BY list, and LIMIT/OFFSET
// values. Field names and operators come from the allow-list only; anything
// else is store.ErrBadField.
//
// Text filters are case-insensitive on both engines: both sides go through
// Dialect.Fold. eq and ne compare whole values; contains and nc match a
// literal substring (the value's % and _ are escaped); like takes the value
// as a LIKE pattern (% any run, _ one character, \ escapes). Time fields
// accept eq and ne with an RFC 3339 value, compared at microsecond
// precision; other operators on them are store.ErrBadField.
func (db *DB) listQuery(spec listSpec, opt store.ListOptions, a *args) (conds []string, order string, limit, offset int, err error) {
	fold := db.d.Fold
	for _, f := range opt.Filters {
		fd, ok := spec.fields[f.Field]
		if !ok {
			return nil, "", 0, 0, fmt.Errorf("%w: filter field %q", store.ErrBadField, f.Field)
		}
		if fd.kind == timeField {
			t, perr := time.Parse(time.RFC3339Nano, f.Value)
			if perr != nil {
				return nil, "", 0, 0, fmt.Errorf("%w: filter %q: value is not an RFC 3339 time", store.ErrBadField, f.Field)
			}
			switch f.Op {
			case "eq":
				conds = append(conds, fd.expr+" = "+a.add(micros(t)))
			case "ne":
				conds = append(conds, fd.expr+" <> "+a.add(micros(t)))
			default:
				return nil, "", 0, 0, fmt.Errorf("%w: operator %q on time field %q", store.ErrBadField, f.Op, f.Field)
			}
			continue
		}
		col := fold + "(" + fd.expr + ")"
		switch f.Op {
		case "eq":
			conds = append(conds, col+" = "+fold+"("+a.add(f.Value)+")")
		case "ne":
			conds = append(conds, col+" <> "+fold+"("+a.add(f.Value)+")")
		case "contains":
			conds = append(conds, col+" LIKE "+fold+"("+a.add("%"+likeEscaper.Replace(f.Value)+"%")+`) ESCAPE '\'`)
		case "nc":
			conds = append(conds, col+" NOT LIKE "+fold+"("+a.add("%"+likeEscaper.Replace(f.Value)+"%")+`) ESCAPE '\'`)
		case "like":
			conds = append(conds, col+" LIKE "+fold+"("+a.add(f.Value)+`) ESCAPE '\'`)
		default:
			return nil, "", 0, 0, fmt.Errorf("%w: operator %q", store.ErrBadField, f.Op)
		}
	}

	sortKey := opt.Sort
	if sortKey == "" {
		sortKey = spec.defaultSort
	}
	dir := "ASC"
	if name, ok := strings.CutPrefix(sortKey, "-"); ok {
		sortKey, dir = name, "DESC"
	}
	fd, ok := spec.fields[sortKey]
	if !ok {
		return nil, "", 0, 0, fmt.Errorf("%w: sort field %q", store.ErrBadField, opt.Sort)
	}
	// Text sorts fold case too, so "alfa" sorts before "Beta".
	key := fd.expr
	if fd.kind == textField {
		key = fold + "(" + key + ")"
	}
	order = key + " " + dir + ", " + spec.tieBreak + " " + dir

	limit = opt.Page.Size
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	number := max(opt.Page.Number, 1)
	number = min(number, maxPageNumber)
	offset = (number - 1) * limit
	return conds, order, limit, offset, nil
}

// where joins conditions into a WHERE clause ("" when there are none).
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
