// Package auth holds ready-made authentication and authorization for
// gobridge's Apache auth providers (docs/auth.md). Each subpackage is an
// ordinary Go library that also implements the sdk's provider interfaces,
// so it can be served as is with sdk.Serve or combined in a plugin:
//
//   - htpasswd: password files in every format Apache's htpasswd writes
//     (bcrypt, SHA-512/SHA-256 crypt, apr1 MD5, {SHA}, crypt DES) and
//     htdigest files for AuthType Digest; reloaded when they change;
//   - groups: AuthGroupFile-format group files for `Require gobridge
//     <plugin> group ...`;
//   - jwt: bearer-token verification against a JWKS file with an explicit
//     algorithm allow-list;
//   - throttle: brute-force throttling per user and per client address.
//
// cmd/gobridge-auth serves all of them, configured with GoBridgeOption.
//
// Results follow httpd's mod_auth.h: a provider answers granted, denied or
// user-not-found, and returns an error only for technical failures, which
// httpd turns into a 500: authentication fails closed.
package auth
