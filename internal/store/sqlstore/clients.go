package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
)

const clientCols = `c.id, c.name, c.type, c.secret_hash, c.redirect_uris, c.post_logout_redirect_uris,
	c.grant_types, c.scopes, c.owner_id, c.legacy, c.first_party, c.offline_access_required, c.disabled, c.access_token_ttl, c.id_token_alg, c.created_at, c.updated_at, c.origin, c.registration_hash`

func scanClient(r rowScanner) (*store.Client, error) {
	var c store.Client
	var redirects, postLogout, grants, scopes string
	var ttl, created, updated int64
	if err := r.Scan(&c.ID, &c.Name, &c.Type, &c.SecretHash, &redirects, &postLogout,
		&grants, &scopes, &c.OwnerID, &c.Legacy, &c.FirstParty, &c.OfflineAccessRequired, &c.Disabled, &ttl, &c.IDTokenAlg, &created, &updated, &c.Origin, &c.RegistrationHash); err != nil {
		return nil, err
	}
	var err error
	if c.RedirectURIs, err = fromJSONList(redirects); err != nil {
		return nil, err
	}
	if c.PostLogoutRedirectURIs, err = fromJSONList(postLogout); err != nil {
		return nil, err
	}
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	if len(c.RegistrationHash) == 0 {
		c.RegistrationHash = nil
	}
	c.Grants, c.Scopes = splitList(grants), splitList(scopes)
	c.AccessTokenTTL = time.Duration(ttl)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// CreateClient inserts c; store.ErrConflict when the ID is taken.
func (db *DB) CreateClient(ctx context.Context, c *store.Client) error {
	if err := checkWords("grant type", c.Grants); err != nil {
		return err
	}
	if err := checkWords("scope", c.Scopes); err != nil {
		return err
	}
	redirects, err := jsonList(c.RedirectURIs)
	if err != nil {
		return err
	}
	postLogout, err := jsonList(c.PostLogoutRedirectURIs)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO clients (id, name, type, secret_hash, redirect_uris,
		post_logout_redirect_uris, grant_types, scopes, owner_id, legacy, first_party, offline_access_required,
		disabled, access_token_ttl, id_token_alg, created_at, updated_at, origin, registration_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		c.ID, c.Name, c.Type, blob(c.SecretHash), redirects, postLogout, joinList(c.Grants),
		joinList(c.Scopes), c.OwnerID, c.Legacy, c.FirstParty, c.OfflineAccessRequired, c.Disabled, int64(c.AccessTokenTTL),
		c.IDTokenAlg, micros(c.CreatedAt), micros(c.UpdatedAt), c.Origin, blob(c.RegistrationHash))
	return db.mapErr(err)
}

// GetClient returns the client with id, or store.ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := scanClient(db.readRow(ctx, `SELECT `+clientCols+` FROM clients c WHERE c.id = $1`, id))
	return c, notFound(err)
}

// UpdateClient applies upd, sets UpdatedAt to now and returns the client as
// stored; store.ErrNotFound for an unknown id. A non-nil but empty
// SecretHash removes the secret.
func (db *DB) UpdateClient(ctx context.Context, id string, upd store.ClientUpdate, now time.Time) (*store.Client, error) {
	defer db.changed()
	var a args
	var set []string
	add := func(col string, v any) { set = append(set, col+" = "+a.add(v)) }
	if upd.Name != nil {
		add("name", *upd.Name)
	}
	if upd.SecretHash != nil {
		add("secret_hash", blob(upd.SecretHash))
	}
	if upd.RedirectURIs != nil {
		s, err := jsonList(*upd.RedirectURIs)
		if err != nil {
			return nil, err
		}
		add("redirect_uris", s)
	}
	if upd.PostLogoutRedirectURIs != nil {
		s, err := jsonList(*upd.PostLogoutRedirectURIs)
		if err != nil {
			return nil, err
		}
		add("post_logout_redirect_uris", s)
	}
	if upd.Grants != nil {
		if err := checkWords("grant type", *upd.Grants); err != nil {
			return nil, err
		}
		add("grant_types", joinList(*upd.Grants))
	}
	if upd.Scopes != nil {
		if err := checkWords("scope", *upd.Scopes); err != nil {
			return nil, err
		}
		add("scopes", joinList(*upd.Scopes))
	}
	if upd.Disabled != nil {
		add("disabled", *upd.Disabled)
	}
	if upd.IDTokenAlg != nil {
		add("id_token_alg", *upd.IDTokenAlg)
	}
	if upd.FirstParty != nil {
		add("first_party", *upd.FirstParty)
	}
	if upd.OfflineAccessRequired != nil {
		add("offline_access_required", *upd.OfflineAccessRequired)
	}
	if upd.RegistrationHash != nil {
		add("registration_hash", blob(upd.RegistrationHash))
	}
	add("updated_at", micros(now))
	q := `UPDATE clients SET ` + strings.Join(set, ", ") + ` WHERE id = ` + a.add(id) + ` RETURNING ` + strings.ReplaceAll(clientCols, "c.", "")
	if upd.Disabled == nil || !*upd.Disabled {
		c, err := scanClient(db.w.QueryRowContext(ctx, q, a...))
		if err != nil {
			return nil, db.mapErr(notFound(err))
		}
		return c, nil
	}
	// Disabling a client revokes every grant issued to it in the same
	// transaction, as disabling a user does: its refresh tokens and the
	// access tokens that name those grants stop working at once (a
	// re-enabled client starts from nothing).
	defer db.changed()
	var c *store.Client
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ctx := db.stmtCtx(ctx)
		var err error
		if c, err = scanClient(tx.QueryRowContext(ctx, q, a...)); err != nil {
			return notFound(err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at = 0`, id, micros(now))
		return err
	})
	if err != nil {
		return nil, db.mapErr(err)
	}
	return c, nil
}

// DeleteClient deletes the client; foreign keys (ON DELETE CASCADE) delete
// its grants, their refresh tokens, its codes and consents.
// store.ErrNotFound for an unknown id.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	defer db.changed()
	return mustAffect(db.w.ExecContext(ctx, `DELETE FROM clients WHERE id = $1`, id))
}

// ListClients lists the clients of ownerID ("" lists all) with opt (fields:
// store.ClientFields; default order created_at ascending).
func (db *DB) ListClients(ctx context.Context, ownerID string, opt store.ListOptions) ([]*store.Client, int, error) {
	var a args
	conds, order, limit, offset, err := db.listQuery(clientList, opt, &a)
	if err != nil {
		return nil, 0, err
	}
	if ownerID != "" {
		conds = append(conds, "c.owner_id = "+a.add(ownerID))
	}
	from := ` FROM clients c` + where(conds)
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*)`+from, a...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT ` + clientCols + from + ` ORDER BY ` + order +
		` LIMIT ` + strconv.Itoa(limit) + ` OFFSET ` + strconv.Itoa(offset)
	rows, err := db.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	return out, total, rows.Err()
}
