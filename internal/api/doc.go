// Package api serves the JSON:API resources of Multinexo Auth
// (https://jsonapi.org/format/1.1/): for now the users resource — public
// registration and the caller's own account — and the seed-004 plain-JSON
// view of the caller, GET /api/v1/users/me/.
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
//     Changing the password needs current_password in the same request;
//     a wrong one is 422 "incorrect" at /data/attributes/current_password
//     and counts as a failed login (same throttling, 429 with Retry-After).
//   - GET /v1/users/{id} (the Location of a created user) shows only the
//     caller's own resource; any other id is 404.
//   - /v1/users/me needs a Bearer access token of a user (RFC 6750): errors
//     carry the WWW-Authenticate challenge; a client-credentials token is
//     403. Responses about the caller are Cache-Control: no-store.
package api
