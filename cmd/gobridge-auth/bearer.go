package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobridge/gobridge/auth/jwt"
	"github.com/gobridge/gobridge/sdk"
)

// Bearer tokens, through the raw authentication hook:
//
//	<Location /api>
//	    AuthType Bearer
//	    AuthName "api"
//	    GoBridgeAuthnHandler auth
//	    GoBridgeOption jwks /etc/apache2/jwks.json
//	    GoBridgeOption jwt.audience api
//	    Require valid-user
//	</Location>
//
// Options (all but jwks optional):
//
//	jwks PATH              JSON Web Key Set with the verification keys
//	jwt.algorithms LIST    allow-list, e.g. "RS256 ES256" (default: every
//	                       asymmetric algorithm; HS256/384/512 only if listed)
//	jwt.issuer ISS         required "iss"
//	jwt.audience AUD...    "aud" must contain one of these
//	jwt.leeway DURATION    clock skew on exp/nbf/iat (default 30s)
//	jwt.user-claim CLAIM   claim that becomes the user (default "sub")
//	jwt.env CLAIM=VAR...   claims exported to subprocess_env
//	jwt.allow-no-exp on    accept tokens without "exp"
//	jwt.realm REALM        realm of the Bearer challenge (default: the location)

type verifiers struct {
	mu sync.Mutex
	m  map[string]*jwt.Verifier
}

// verifier returns the (cached) Verifier for the request's options.
func (v *verifiers) get(r *sdk.Request) (*jwt.Verifier, error) {
	jwks, err := option(r, "jwks")
	if err != nil {
		return nil, err
	}
	cfg := jwt.Config{
		JWKSFile:      jwks,
		Algorithms:    strings.Fields(strings.ReplaceAll(r.Option("jwt.algorithms"), ",", " ")),
		Issuer:        r.Option("jwt.issuer"),
		Audience:      strings.Fields(r.Option("jwt.audience")),
		UserClaim:     r.Option("jwt.user-claim"),
		AllowNoExpiry: strings.EqualFold(r.Option("jwt.allow-no-exp"), "on"),
	}
	if l := r.Option("jwt.leeway"); l != "" {
		d, err := time.ParseDuration(l)
		if err != nil {
			return nil, fmt.Errorf("GoBridgeOption jwt.leeway %q: %w", l, err)
		}
		cfg.Leeway = d
		if d == 0 {
			cfg.Leeway = -1
		}
	}
	if env := r.Option("jwt.env"); env != "" {
		cfg.Env = map[string]string{}
		for _, kv := range strings.Fields(env) {
			claim, name, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("GoBridgeOption jwt.env: %q is not CLAIM=VAR", kv)
			}
			cfg.Env[claim] = name
		}
	}
	key := fmt.Sprintf("%q", []any{cfg.JWKSFile, cfg.Algorithms, cfg.Issuer, cfg.Audience, cfg.UserClaim, cfg.AllowNoExpiry, cfg.Leeway, r.Option("jwt.env")})
	v.mu.Lock()
	defer v.mu.Unlock()
	if ver, ok := v.m[key]; ok {
		return ver, nil
	}
	ver, err := jwt.New(cfg)
	if err != nil {
		return nil, err
	}
	if v.m == nil {
		v.m = map[string]*jwt.Verifier{}
	}
	v.m[key] = ver
	return ver, nil
}

// Authenticate implements sdk.Authenticator (GoBridgeAuthnHandler): it
// accepts "Authorization: Bearer <JWT>" and refuses everything else with
// 401 and a Bearer challenge (RFC 6750).
func (p *provider) Authenticate(r *sdk.PhaseRequest) error {
	ver, err := p.jwt.get(r.Request)
	if err != nil {
		return err // 500: a configuration problem
	}
	realm := r.Option("jwt.realm")
	if realm == "" {
		realm = r.Location
	}
	realm = strings.NewReplacer(`"`, "", `\`, "").Replace(realm)
	challenge := func(extra string) error {
		if err := r.Set(sdk.TableErrHeadersOut, "WWW-Authenticate", `Bearer realm="`+realm+`"`+extra); err != nil {
			return err // 500: a realm httpd cannot send (from jwt.realm)
		}
		return sdk.HTTPError(http.StatusUnauthorized)
	}
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return challenge("")
	}
	tok, ok := jwt.FromHeader(h[0])
	if len(h) != 1 || !ok {
		return challenge(`, error="invalid_request"`)
	}
	t, err := ver.Verify(tok)
	if errors.Is(err, jwt.ErrKeySet) {
		return err // 500: the JWKS is unreadable
	}
	if err != nil {
		// The reason, never the token.
		r.Logger().Info("gobridge-auth: bearer token refused", "reason", err, "client", r.UseragentIP)
		return challenge(`, error="invalid_token"`)
	}
	// A claim httpd cannot take (a control character in the subject or in
	// a jwt.env value) fails the request (500) rather than half-log it in.
	if err := r.SetUser(t.User); err != nil {
		return fmt.Errorf("gobridge-auth: the token's user: %w", err)
	}
	if err := r.SetAuthType("Bearer"); err != nil {
		return err
	}
	for k, v := range t.Env {
		if err := r.Set(sdk.TableSubprocessEnv, k, v); err != nil {
			return fmt.Errorf("gobridge-auth: jwt.env %s: %w", k, err)
		}
	}
	return nil
}
