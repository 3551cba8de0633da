// Package api serves the JSON:API resources of Multinexo Auth
// (https://jsonapi.org/format/1.1/): the users resource — public
// registration and the caller's own account —, the seed-004 plain-JSON
// view of the caller, GET /api/v1/users/me/, auth_clients ("Mis
// Aplicaciones", the caller's OAuth applications) and tokens (the caller's
// grants).
//
// How a request flows:
//
//   - Handlers return errors; one adapter (handle) writes them as a JSON:API
//     error document (application/vnd.api+json), logs the cause with
//     httpx.LogError and never shows the text of an internal error: a 500
//     names only the request id.
//   - Bodies are read through http.MaxBytesReader (1 MiB: 413 beyond, refused
//     before being read whole), must be application/vnd.api+json or
//     application/json (415 otherwise), valid UTF-8 JSON (400 "malformed"),
//     a document whose data is a resource object (400 "invalid_document"),
//     of type "users" (409 "type_mismatch", as JSON:API §Creating Resources
//     requires), without a client-generated id on creation (403
//     "client_id_not_allowed"). Attribute names are matched exactly (no
//     case-insensitive json matching): unknown ones are 422
//     "unknown_attribute" and the server-owned ones (id, admin, activated,
//     status, avatar_url, created_at, updated_at) 422 "read_only" — never
//     applied. Each wrong field is its own error object with
//     source.pointer "/data/attributes/<name>".
//   - Errors carry title and detail in Spanish, or English when
//     Accept-Language prefers it, and say what to do.
//   - Registration is limited per client address with counters in the store
//     (exact across instances): successful and conflicting attempts count,
//     refused ones get 429 with Retry-After.
//   - PATCH /v1/users/me may omit data.id (the endpoint names the
//     resource); when sent it must be the caller's (409 "id_mismatch").
//     Changing the password or the email needs current_password in the
//     same request (a leaked token alone cannot take the account);
//     a wrong one is 422 "incorrect" at /data/attributes/current_password
//     and counts as a failed login (same throttling, 429 with Retry-After).
//   - GET /v1/users/{id} (the Location of a created user) shows only the
//     caller's own resource; any other id is 404.
//   - Every route is listed with what it needs (access.go: need) and
//     mounted through one guard, so no handler decides who may call it:
//     nothing (registration); a Bearer access token of a user (RFC 6750:
//     errors carry the WWW-Authenticate challenge; a client-credentials
//     token is 403); or that and the scope "account" from a client that is
//     first party now (403 insufficient_scope, scope="account"). Reading
//     /v1/users/me shows what the token's scopes allow (profile: names,
//     avatar, activated, status, times; email: email, email_verified;
//     openid alone: the id); changing or deleting the account,
//     /v1/auth_clients and /v1/tokens need account. Responses about the
//     caller are Cache-Control: no-store.
//   - /v1/auth_clients: the caller's applications only; anyone else's (and
//     an operator's, which has no owner) is 404 for every method, so ids
//     cannot be probed. Creation and changes go through package clients
//     (clients.Create with SelfService: authorization_code and
//     refresh_token only — password and client_credentials are for
//     operators; clients.Update). "redirect" is a string of URIs, one per
//     line or space separated, or a JSON array; it is shown one per line.
//     The secret appears once: in the 201 of POST and in the answer of
//     POST /v1/auth_clients/{id}/secret, which replaces it (the old one
//     fails at once). PATCH revoked:true disables the application: its
//     client authentication fails and the store revokes every grant issued
//     to it in the same transaction, so its refresh and access tokens stop
//     working at once;
//     revoked:false on a revoked one is 422 — re-enabling is an
//     operator's call. DELETE removes it with every grant, token, code
//     and consent issued to it. Events: client.created, client.revoked,
//     client.secret_rotated, client.deleted.
//   - /v1/tokens: the caller's grants, revoked ones included. PATCH
//     revoked:true revokes the grant (its refresh and access tokens fail
//     at once: bearer checks read the grant's liveness) and forgets the
//     remembered consent, so the application must ask again; event
//     consent.revoked. revoked:false on a revoked grant is 422.
//   - Lists take page[number] (from 1), page[size] (1 to 100, default 20),
//     sort (one field of the allow-list, "-" for descending) and
//     filter[field] / filter[field][op] with the Multinexo string-filter
//     operators eq, ne, contains (default), nc and like, case-insensitive;
//     time fields take eq (default) and ne with an RFC 3339 value. Every
//     wrong parameter — unknown field or operator, malformed brackets,
//     out-of-range page, include, fields[...] — is its own 400 error
//     object with source.parameter; a database error never reaches the
//     client. Answers carry meta {total, page {number, size, last}} and
//     links self, first, prev, next, last (null when there is none), which
//     repeat the filters and sort but never an access_token parameter.
package api
