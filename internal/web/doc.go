// Package web serves what a person sees: the authorization endpoint
// (GET|POST /auth/v1/authorize and its seed-002 alias /auth/v1/authorization)
// and the pages it leads through — login, registration, consent — plus the
// account page, logout and RP-initiated logout (/auth/v1/logout).
//
// What flows through it: a client sends the browser to the authorization
// endpoint; parseAuthz validates the request (an unknown client or a
// redirect URI that is not registered is an error page, never a redirect;
// every other error goes back to the client with the RFC 6749 §4.1.2.1 code,
// state and iss). Without a recent enough session the browser goes to
// /login?continue=<the request>; after login it comes back and the request is
// validated again from scratch. Unless the user allowed every requested scope
// to the client before, the consent page posts the original request and a
// binding to the session to /consent, which validates everything once more.
// The answer is an authorization code stored by its hash (60 s, single use,
// bound to client, redirect URI, PKCE challenge, nonce, user and session),
// redeemed at the token endpoint by package provider.
//
// The management pages follow the same patterns. /account/applications
// ("Mis Aplicaciones", seeds 002 and 003) lets a person register their own
// applications through package clients (authorization_code and
// refresh_token only), see the client ID and — in the POST response alone,
// never stored in clear — the secret, rotate it, edit the name and redirect
// URIs, and delete the application with every token it holds; anyone but
// the owner gets the 404 page. /account/connections groups the person's live
// grants by application; revoking ends them all (and so every refresh and
// access token naming them) and forgets the consent. /admin, for users with
// Admin set and a 404 page for everyone else, lists and searches users
// (disabling one revokes everything it has), lists and creates applications
// with any grant (seed 004's password grant) and disables them, and pages
// through the security events. Every change is a POST behind
// CrossOriginProtection, destructive ones confirmed on a page of their own,
// and recorded as an event (client.created, client.secret_rotated,
// client.deleted, consent.revoked, user.disabled, client.disabled...).
// Only the credentials page runs a script, /static/copy.js (CSP script-src
// 'self'), for its copy buttons; without it the fields are read-only inputs
// to select.
//
// Browser sessions are store rows; the mnx_session cookie carries the id and
// a secret whose hash the row keeps. Pages are html/template files embedded
// in the binary, Spanish by default and English by ui_locales or
// Accept-Language, and work without JavaScript. Page forms are behind
// http.CrossOriginProtection; every answer of a browser route (pages,
// redirects, error pages) carries the one CSP, httpx.PageCSP, with
// frame-ancestors 'none', set where browser routes are handled (Web.handle);
// a rendered page's form-action also names the client origin its form's
// redirect chain ends at (Chrome enforces form-action on redirects).
package web
