// Package cimd resolves OAuth client ID metadata documents
// (draft-ietf-oauth-client-id-metadata-document): a client_id that is an
// https URL with a path names a JSON document, served at that URL, that
// describes the client (redirect_uris, client_name, …). Clients nobody
// registered with the operator — MCP clients such as Claude Code or VS
// Code — identify themselves this way.
//
// Fetching a URL a stranger chose is a server-side request forgery risk,
// so the fetcher:
//
//   - resolves the host itself and checks every address it resolves to,
//     refusing loopback, private (RFC 1918, unique-local fc00::/7),
//     link-local (169.254.0.0/16 with the cloud metadata service,
//     fe80::/10), CGNAT (100.64.0.0/10), multicast, unspecified,
//     documentation, benchmarking and reserved ranges, and IPv6 forms that
//     embed an IPv4 address (mapped, NAT64, 6to4, Teredo); then dials the
//     address it checked, so a second DNS answer cannot swap it;
//   - follows no redirect and uses no proxy;
//   - gives up after Timeout (5 s) and reads at most MaxSize (64 KiB);
//   - runs at most MaxConcurrent fetches at once (more are refused at
//     once, not queued) and one per URL (concurrent requests for one URL
//     share its fetch), so slow or huge documents cannot tie up the server;
//   - caches documents for their Cache-Control max-age, kept between
//     MinCache and MaxCache.
//
// AllowLoopback (serve --cimd-allow-loopback, development and tests only)
// additionally accepts http and https URLs whose host is literally
// 127.0.0.1 or [::1].
//
// Resolver turns a client_id into the store's client row: the document is
// validated and the row (Origin store.OriginMetadata, public, the
// document's redirect URIs) created or refreshed, so grants, consents and
// the person's connected applications reference it like any other client.
package cimd
