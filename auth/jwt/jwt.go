// Package jwt verifies JWT bearer tokens (RFC 7519, JWS compact form)
// against keys from a JWKS file, for gobridge's raw authentication hook and
// for any Go program.
//
// Defences, each tested:
//   - an explicit algorithm allow-list; "none" can never be allowed, and
//     HMAC (HS256/384/512) only when listed explicitly;
//   - algorithm confusion is refused: a key is only tried with an algorithm
//     of its own type (RSA keys for RS*/PS*, EC keys of the matching curve
//     for ES*, Ed25519 for EdDSA, "oct" secrets for HS*), and a key whose
//     JWK "alg" is set is only used with that algorithm;
//   - exp (required by default), nbf and iat are checked with a small
//     configurable leeway; iss and aud when configured;
//   - tokens larger than MaxTokenSize are refused before parsing.
//
// The JWKS file is re-read when it changes, so keys can be rotated without
// restarting anything.
package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gobridge/gobridge/auth/internal/filecache"
)

// MaxTokenSize bounds the tokens Verify parses (bytes).
const MaxTokenSize = 16 << 10

// DefaultAlgorithms is the allow-list when Config.Algorithms is empty:
// every asymmetric algorithm, never HMAC.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config configures a Verifier. Only JWKSFile is required.
type Config struct {
	// JWKSFile is a JSON Web Key Set (RFC 7517) with the verification keys.
	JWKSFile string

	// Algorithms is the allow-list of "alg" values. Default:
	// DefaultAlgorithms. HS256, HS384 and HS512 must be listed to be
	// accepted, and then only with "oct" keys of the JWKS. "none" is refused.
	Algorithms []string

	// Issuer, when set, must equal the "iss" claim.
	Issuer string

	// Audience, when set, must share at least one value with "aud".
	Audience []string

	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 30s;
	// negative: none.
	Leeway time.Duration

	// AllowNoExpiry accepts tokens without "exp". Default: refused.
	AllowNoExpiry bool

	// UserClaim names the claim that becomes the Apache user. Default "sub".
	UserClaim string

	// Env maps claim names to environment variable names: the claim's value
	// is exported (Token.Env), e.g. {"email": "JWT_EMAIL"}. Strings as is,
	// numbers and booleans in JSON form, arrays joined with ",", objects as
	// JSON.
	Env map[string]string

	// Now returns the current time (tests). Default time.Now.
	Now func() time.Time
}

// Token is a verified token.
type Token struct {
	User      string            // the UserClaim's value
	Algorithm string            // the alg it was verified with
	KeyID     string            // kid of the key that verified it
	Claims    map[string]any    // every claim
	Env       map[string]string // Config.Env applied
}

// Errors returned by Verify (wrapped); every one means "not authenticated".
var (
	ErrMalformed   = errors.New("jwt: malformed token")
	ErrAlgorithm   = errors.New("jwt: algorithm not allowed")
	ErrNoKey       = errors.New("jwt: no key verifies the token")
	ErrClaims      = errors.New("jwt: claims rejected")
	ErrNoUser      = errors.New("jwt: the user claim is missing or not a string")
	ErrKeySet      = errors.New("jwt: cannot load the JWKS")
	errNotAllowedN = errors.New(`jwt: algorithm "none" can never be allowed`)
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Verifier verifies tokens; safe for concurrent use.
type Verifier struct {
	cfg  Config
	algs []jose.SignatureAlgorithm
	keys *filecache.File[*jose.JSONWebKeySet]
}

// New checks cfg and returns a Verifier. The JWKS is read on first use and
// whenever it changes; call Keys to check it at once.
func New(cfg Config) (*Verifier, error) {
	if cfg.JWKSFile == "" {
		return nil, errors.New("jwt: Config.JWKSFile is required")
	}
	names := cfg.Algorithms
	if len(names) == 0 {
		names = DefaultAlgorithms
	}
	v := &Verifier{cfg: cfg}
	for _, n := range names {
		switch strings.TrimSpace(n) {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512":
			v.algs = append(v.algs, jose.SignatureAlgorithm(strings.TrimSpace(n)))
		case "none", "None", "NONE", "":
			return nil, errNotAllowedN
		default:
			return nil, fmt.Errorf("jwt: unknown algorithm %q", n)
		}
	}
	if v.cfg.Leeway == 0 {
		v.cfg.Leeway = 30 * time.Second
	} else if v.cfg.Leeway < 0 {
		v.cfg.Leeway = 0
	}
	if v.cfg.UserClaim == "" {
		v.cfg.UserClaim = "sub"
	}
	if v.cfg.Now == nil {
		v.cfg.Now = time.Now
	}
	for claim, env := range cfg.Env {
		if !envName.MatchString(env) || claim == "" {
			return nil, fmt.Errorf("jwt: invalid export %q -> %q: environment names are [A-Za-z_][A-Za-z0-9_]*", claim, env)
		}
	}
	v.keys = filecache.New(cfg.JWKSFile, parseJWKS)
	return v, nil
}

func parseJWKS(b []byte) (*jose.JSONWebKeySet, error) {
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, err
	}
	if len(ks.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	for i := range ks.Keys {
		k := &ks.Keys[i]
		// Never verify with private material someone left in the file.
		if pub := k.Public(); pub.Key != nil {
			*k = pub
		}
		if _, secret := k.Key.([]byte); !secret && !k.Valid() {
			return nil, fmt.Errorf("key %d (kid %q) is invalid", i, k.KeyID)
		}
	}
	return &ks, nil
}

// Keys reads the JWKS (if it changed) and returns how many keys it holds.
func (v *Verifier) Keys() (int, error) {
	ks, err := v.keys.Get()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrKeySet, err)
	}
	return len(ks.Keys), nil
}

// FromHeader extracts the token of an "Authorization: Bearer <token>"
// header value; ok is false for any other scheme or a malformed value.
func FromHeader(authorization string) (token string, ok bool) {
	scheme, tok, found := strings.Cut(strings.TrimLeft(authorization, " \t"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.Trim(tok, " \t")
	if tok == "" || strings.ContainsAny(tok, " \t\r\n\x00") {
		return "", false
	}
	return tok, true
}

// Verify checks token and returns its claims. Any error means the token
// must not be trusted; errors wrap ErrMalformed, ErrAlgorithm, ErrNoKey,
// ErrClaims, ErrNoUser or ErrKeySet (the last is a server-side problem).
// Errors never contain the token.
func (v *Verifier) Verify(token string) (*Token, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrMalformed, len(token), MaxTokenSize)
	}
	if strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	// Look at the header first to report a refused alg as such.
	tok, err := josejwt.ParseSigned(token, v.algs)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, fmt.Errorf("%w: %v", ErrAlgorithm, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(tok.Headers))
	}
	h := tok.Headers[0]
	alg := h.Algorithm
	ks, err := v.keys.Get()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySet, err)
	}
	cands := ks.Keys
	if h.KeyID != "" {
		cands = ks.Key(h.KeyID)
	}
	var (
		std    josejwt.Claims
		claims map[string]any
		used   *jose.JSONWebKey
	)
	for i := range cands {
		k := &cands[i]
		if !keyFits(k, alg) {
			continue
		}
		if err := tok.Claims(k.Key, &std, &claims); err == nil {
			used = k
			break
		}
	}
	if used == nil {
		return nil, fmt.Errorf("%w (alg %s, kid %q)", ErrNoKey, alg, h.KeyID)
	}

	now := v.cfg.Now()
	if std.Expiry == nil && !v.cfg.AllowNoExpiry {
		return nil, fmt.Errorf("%w: no exp", ErrClaims)
	}
	exp := josejwt.Expected{Issuer: v.cfg.Issuer, Time: now}
	if len(v.cfg.Audience) > 0 {
		exp.AnyAudience = v.cfg.Audience
	}
	if err := std.ValidateWithLeeway(exp, v.cfg.Leeway); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClaims, err)
	}
	if len(v.cfg.Audience) > 0 && len(std.Audience) == 0 {
		return nil, fmt.Errorf("%w: no aud", ErrClaims)
	}

	user, ok := claims[v.cfg.UserClaim].(string)
	if !ok || user == "" {
		return nil, fmt.Errorf("%w: %q", ErrNoUser, v.cfg.UserClaim)
	}
	t := &Token{User: user, Algorithm: alg, KeyID: used.KeyID, Claims: claims, Env: map[string]string{}}
	names := make([]string, 0, len(v.cfg.Env))
	for c := range v.cfg.Env {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		if val, ok := claims[c]; ok {
			t.Env[v.cfg.Env[c]] = strings.Map(noControl, envValue(val))
		}
	}
	return t, nil
}

// keyFits reports whether k may verify a signature made with alg.
func keyFits(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && key.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return key.Curve == elliptic.P256()
		case "ES384":
			return key.Curve == elliptic.P384()
		case "ES512":
			return key.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case []byte:
		return strings.HasPrefix(alg, "HS") && len(key) >= 32
	}
	return false
}

func envValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = envValue(e)
		}
		return strings.Join(parts, ",")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// noControl replaces control characters, which httpd would refuse in an
// environment variable, with a space.
func noControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}
