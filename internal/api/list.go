package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Page sizes of every list.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// maxPageNumber keeps the offset far from overflowing anywhere.
	maxPageNumber = 1<<31 - 1
	// maxFilterValue bounds one filter value, in bytes.
	maxFilterValue = 256
)

// listFields is the allow-list of one list: the store's field names
// (store.ClientFields, store.GrantFields, ...) and which of them are times.
// Text fields take every Multinexo string-filter modifier (contains by
// default); time fields take eq and ne (eq by default) with an RFC 3339 value.
type listFields struct {
	names []string
	times []string
}

// listQuery is a list request as validated: the store's options and the
// canonical query (filters and sort) that the pagination links repeat.
type listQuery struct {
	opt   store.ListOptions
	query []string // "key=value" pairs, escaped, in a stable order
}

func badParam(param, code string, title, detail text) Problem {
	return Problem{Code: code, Param: param, Title: title, Detail: detail}
}

// parseList reads JSON:API page[number], page[size], sort and filter[...]
// (https://jsonapi.org/format/1.1/#fetching-pagination and the Multinexo
// string filters). Every wrong parameter is its own 400 error object with
// source.parameter. Parameters of other standard families (include,
// fields[...]) and unknown names made of a-z only are refused, as JSON:API
// §Query Parameters requires; implementation-specific ones (with another
// character, such as access_token) are left to their owners.
func parseList(r *http.Request, fields listFields) (*listQuery, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Cause: err, Problems: []Problem{{Code: "malformed_query",
			Title:  text{"Parámetros mal formados", "Malformed query"},
			Detail: text{"La cadena de consulta no se puede leer: codifica cada nombre y valor (por ejemplo %25 para %).", "The query string cannot be read: encode every name and value (for example %25 for %)."}}}}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	q := &listQuery{opt: store.ListOptions{Page: store.Page{Number: 1, Size: DefaultPageSize}}}
	var probs []Problem
	single := func(k string) (string, bool) {
		if len(values[k]) != 1 {
			probs = append(probs, badParam(k, "repeated_parameter",
				text{"Parámetro repetido", "Repeated parameter"},
				text{"Envía \"" + k + "\" una sola vez.", "Send \"" + k + "\" only once."}))
			return "", false
		}
		return values[k][0], true
	}
	for _, k := range keys {
		switch {
		case k == "page[number]":
			v, ok := single(k)
			if !ok {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPageNumber {
				probs = append(probs, badParam(k, "invalid_page",
					text{"Número de página no válido", "Invalid page number"},
					text{"page[number] debe ser un número entero desde 1.", "page[number] must be a whole number from 1."}))
				continue
			}
			q.opt.Page.Number = n
		case k == "page[size]":
			v, ok := single(k)
			if !ok {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPageSize {
				probs = append(probs, badParam(k, "invalid_page",
					text{"Tamaño de página no válido", "Invalid page size"},
					text{"page[size] debe ser un número entero de 1 a " + strconv.Itoa(MaxPageSize) + ".", "page[size] must be a whole number from 1 to " + strconv.Itoa(MaxPageSize) + "."}))
				continue
			}
			q.opt.Page.Size = n
		case k == "sort":
			v, ok := single(k)
			if !ok {
				continue
			}
			name := strings.TrimPrefix(v, "-")
			switch {
			case strings.Contains(v, ","):
				probs = append(probs, badParam(k, "unsupported_sort",
					text{"Orden no admitido", "Unsupported sort"},
					text{"Esta lista se ordena por un solo campo: uno de " + fieldList(fields.names) + ", con \"-\" delante para orden descendente.", "This list sorts by one field only: one of " + fieldList(fields.names) + ", prefixed with \"-\" for descending order."}))
			case !slices.Contains(fields.names, name):
				probs = append(probs, badParam(k, "invalid_sort",
					text{"Campo de orden desconocido", "Unknown sort field"},
					text{"No se puede ordenar por \"" + v + "\". Usa uno de " + fieldList(fields.names) + ", con \"-\" delante para orden descendente.", "Cannot sort by \"" + v + "\". Use one of " + fieldList(fields.names) + ", prefixed with \"-\" for descending order."}))
			default:
				q.opt.Sort = v
				q.query = append(q.query, "sort="+url.QueryEscape(v))
			}
		case k == "filter" || strings.HasPrefix(k, "filter["):
			field, op, p := parseFilterKey(k, fields)
			if p != nil {
				probs = append(probs, *p)
				continue
			}
			for _, v := range values[k] {
				if p := checkFilterValue(k, field, op, v, fields); p != nil {
					probs = append(probs, *p)
					continue
				}
				q.opt.Filters = append(q.opt.Filters, store.Filter{Field: field, Op: op, Value: v})
				q.query = append(q.query, escapeKey(k)+"="+url.QueryEscape(v))
			}
		case k == "include":
			probs = append(probs, badParam(k, "unsupported_include",
				text{"include no admitido", "include not supported"},
				text{"Esta lista no incluye recursos relacionados. Quita \"include\" y lee cada recurso en su propio endpoint.", "This list does not include related resources. Remove \"include\" and read each resource at its own endpoint."}))
		case strings.HasPrefix(k, "page[") || strings.HasPrefix(k, "fields[") || k == "fields" || isFamilyName(k):
			probs = append(probs, badParam(k, "unknown_parameter",
				text{"Parámetro desconocido", "Unknown parameter"},
				text{"Esta lista no admite \"" + k + "\". Usa page[number], page[size], sort y filter[campo].", "This list does not accept \"" + k + "\". Usa page[number], page[size], sort and filter[field]."}))
		}
	}
	if len(probs) > 0 {
		return nil, newError(http.StatusBadRequest, probs...)
	}
	return q, nil
}

// isFamilyName reports whether k is a name JSON:API reserves for the
// specification (only a-z): the server must refuse one it does not know.
// access_token (RFC 6750 §2.3) has an underscore and is not one.
func isFamilyName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// parseFilterKey reads filter[field] or filter[field][op].
func parseFilterKey(k string, fields listFields) (field, op string, p *Problem) {
	malformed := badParam(k, "invalid_filter",
		text{"Filtro mal formado", "Malformed filter"},
		text{"Escribe el filtro como filter[campo]=valor o filter[campo][operador]=valor, con operador eq, ne, contains, nc o like.", "Write the filter as filter[field]=value or filter[field][operator]=value, with operator eq, ne, contains, nc or like."})
	rest, ok := strings.CutPrefix(k, "filter[")
	if !ok {
		return "", "", &malformed
	}
	field, rest, ok = strings.Cut(rest, "]")
	if !ok || field == "" {
		return "", "", &malformed
	}
	if rest != "" {
		inner, ok := strings.CutPrefix(rest, "[")
		if !ok {
			return "", "", &malformed
		}
		op, rest, ok = strings.Cut(inner, "]")
		if !ok || op == "" || rest != "" {
			return "", "", &malformed
		}
	}
	if strings.ContainsAny(field+op, "[]") {
		return "", "", &malformed
	}
	if !slices.Contains(fields.names, field) {
		p := badParam(k, "unknown_filter_field",
			text{"Campo de filtro desconocido", "Unknown filter field"},
			text{"No se puede filtrar por \"" + field + "\". Usa uno de " + fieldList(fields.names) + ".", "Cannot filter by \"" + field + "\". Use one of " + fieldList(fields.names) + "."})
		return "", "", &p
	}
	isTime := slices.Contains(fields.times, field)
	if op == "" {
		op = "contains"
		if isTime {
			op = "eq"
		}
	}
	ops := store.FilterOps
	if isTime {
		ops = []string{"eq", "ne"}
	}
	if !slices.Contains(ops, op) {
		p := badParam(k, "unknown_filter_operator",
			text{"Operador de filtro desconocido", "Unknown filter operator"},
			text{"El campo \"" + field + "\" no admite el operador \"" + op + "\". Usa uno de " + fieldList(ops) + ".", "The field \"" + field + "\" does not take the operator \"" + op + "\". Use one of " + fieldList(ops) + "."})
		return "", "", &p
	}
	return field, op, nil
}

func checkFilterValue(k, field, op, v string, fields listFields) *Problem {
	if len(v) > maxFilterValue {
		p := badParam(k, "invalid_filter_value",
			text{"Valor de filtro demasiado largo", "Filter value too long"},
			text{"Un valor de filtro tiene como máximo " + strconv.Itoa(maxFilterValue) + " bytes.", "A filter value has at most " + strconv.Itoa(maxFilterValue) + " bytes."})
		return &p
	}
	if slices.Contains(fields.times, field) {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			p := badParam(k, "invalid_filter_value",
				text{"Fecha no válida", "Invalid time"},
				text{"El filtro de \"" + field + "\" necesita una fecha RFC 3339, por ejemplo 2025-01-31T12:00:00Z.", "The filter on \"" + field + "\" needs an RFC 3339 time, for example 2025-01-31T12:00:00Z."})
			return &p
		}
	}
	return nil
}

func fieldList(names []string) string { return strings.Join(names, ", ") }

// escapeKey escapes a parameter name but keeps JSON:API's brackets readable.
func escapeKey(k string) string {
	return strings.NewReplacer("%5B", "[", "%5D", "]").Replace(url.QueryEscape(k))
}

// listError maps a store refusal of the options (which parseList should
// already have caught) to a 400, never a database error.
func listError(err error) error {
	if errors.Is(err, store.ErrBadField) {
		return &Error{Status: http.StatusBadRequest, Cause: err, Problems: []Problem{{Code: "invalid_filter", Param: "filter",
			Title:  text{"Filtro u orden no válido", "Invalid filter or sort"},
			Detail: text{"La lista no admite ese filtro u orden. Revisa los campos y operadores.", "The list does not accept that filter or sort. Check the fields and operators."}}}}
	}
	return err
}

// writeList writes one page of a collection with JSON:API pagination links
// (self, first, prev, next, last; null when there is none) and
// meta {total, page {number, size, last}}. The links repeat the filters and
// sort but never other parameters, such as an access_token.
func writeList(w http.ResponseWriter, path string, q *listQuery, data []Resource, total int) {
	size := q.opt.Page.Size
	number := q.opt.Page.Number
	last := max(1, (total+size-1)/size)
	link := func(n int) string {
		parts := append(slices.Clone(q.query), "page[number]="+strconv.Itoa(n), "page[size]="+strconv.Itoa(size))
		return path + "?" + strings.Join(parts, "&")
	}
	links := map[string]any{"self": link(number), "first": link(1), "last": link(last), "prev": nil, "next": nil}
	if number > 1 {
		links["prev"] = link(min(number-1, last))
	}
	if number < last {
		links["next"] = link(number + 1)
	}
	if data == nil {
		data = []Resource{}
	}
	writeJSON(w, MediaType, http.StatusOK, Document{Data: data, Links: links, Meta: map[string]any{
		"total": total,
		"page":  map[string]int{"number": number, "size": size, "last": last},
	}})
}
