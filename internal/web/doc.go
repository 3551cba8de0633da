// Package web is the page kit and the sign-in pages: the authorization
// endpoint (GET|POST /auth/v1/authorize and its seed-002 alias
// /auth/v1/authorization) and the pages it leads through — login, the
// second factor, registration, consent — plus device activation, logout
// and RP-initiated logout (/auth/v1/logout).
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
// The consoles — /account, "Mis Aplicaciones", connections and /admin —
// are package console, built on this package's page kit (kit.go: Handle,
// Render, SignedIn, Event, AddPages, T...) and mounted by server beside
// these pages.
//
// Browser sessions are store rows; the mnx_session cookie carries the id and
// a secret whose hash the row keeps. Pages are html/template files embedded
// in the binary, Spanish by default and English by ui_locales or
// Accept-Language, and work without JavaScript. Every page is mounted as an
// httpx.Browser route (forms behind http.CrossOriginProtection) or, for the
// two endpoints other sites send people to, httpx.BrowserEntry; the class
// gives every answer (pages, redirects, error pages) the one CSP,
// httpx.PageCSP, with frame-ancestors 'none'; render may narrow it: a
// rendered page's form-action also names the client origin its form's
// redirect chain ends at (Chrome enforces form-action on redirects).
package web
