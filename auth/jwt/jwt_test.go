package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type keys struct {
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
	hmac   []byte
	jwks   string
	noHMAC string // the same set without the oct key
}

func newKeys(t *testing.T) *keys {
	t.Helper()
	k := &keys{hmac: []byte("0123456789abcdef0123456789abcdef")}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	pub := []jose.JSONWebKey{
		{Key: &k.rsa.PublicKey, KeyID: "rsa", Use: "sig"},
		{Key: &k.ec.PublicKey, KeyID: "ec"},
		{Key: k.ed.Public(), KeyID: "ed", Algorithm: "EdDSA"},
	}
	dir := t.TempDir()
	write := func(name string, ks []jose.JSONWebKey) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: ks})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k.noHMAC = write("pub.json", pub)
	k.jwks = write("all.json", append(pub, jose.JSONWebKey{Key: k.hmac, KeyID: "hmac"}))
	return k
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// raw builds a token by hand (for alg none and confusion attacks).
func raw(header, claims map[string]any, sig func(signingInput string) []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	var s []byte
	if sig != nil {
		s = sig(in)
	}
	return in + "." + enc.EncodeToString(s)
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "ann", "iss": "https://idp.example", "aud": "api", "exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestVerify(t *testing.T) {
	k := newKeys(t)
	base := Config{JWKSFile: k.jwks, Issuer: "https://idp.example", Audience: []string{"api"}, Now: func() time.Time { return now },
		Env: map[string]string{"email": "JWT_EMAIL", "roles": "JWT_ROLES", "n": "JWT_N"}}
	withHMAC := base
	withHMAC.Algorithms = []string{"HS256", "RS256"}
	onlyRS256 := base
	onlyRS256.Algorithms = []string{"RS256"}
	mailClaim := base
	mailClaim.UserClaim = "email"

	hs := func(key []byte) func(string) []byte {
		return func(in string) []byte {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(in))
			return m.Sum(nil)
		}
	}
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaPubPEMish := []byte(base64.StdEncoding.EncodeToString(rsaPubDER))

	tests := []struct {
		name  string
		cfg   Config
		token string
		want  error // nil: valid
		user  string
	}{
		{"RS256", base, sign(t, jose.RS256, k.rsa, "rsa", claims(nil)), nil, "ann"},
		{"PS256", base, sign(t, jose.PS256, k.rsa, "rsa", claims(nil)), nil, "ann"},
		{"ES256", base, sign(t, jose.ES256, k.ec, "ec", claims(nil)), nil, "ann"},
		{"EdDSA", base, sign(t, jose.EdDSA, k.ed, "ed", claims(nil)), nil, "ann"},
		{"no kid tries fitting keys", base, sign(t, jose.ES256, k.ec, "", claims(nil)), nil, "ann"},
		{"HS256 when allowed", withHMAC, sign(t, jose.HS256, k.hmac, "hmac", claims(nil)), nil, "ann"},
		{"HS256 by default", base, sign(t, jose.HS256, k.hmac, "hmac", claims(nil)), ErrAlgorithm, ""},
		{"RS384 outside the allow-list", onlyRS256, sign(t, jose.RS384, k.rsa, "rsa", claims(nil)), ErrAlgorithm, ""},
		{"alg none", base, raw(map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil), ErrAlgorithm, ""},
		{"alg None with signature", withHMAC, raw(map[string]any{"alg": "None"}, claims(nil), hs(k.hmac)), ErrAlgorithm, ""},
		{"confusion: HS256 keyed with the RSA public key", withHMAC,
			raw(map[string]any{"alg": "HS256", "kid": "rsa"}, claims(nil), hs(rsaPubPEMish)), ErrNoKey, ""},
		{"confusion: HS256 keyed with the RSA modulus", withHMAC,
			raw(map[string]any{"alg": "HS256", "kid": "rsa"}, claims(nil), hs(k.rsa.N.Bytes())), ErrNoKey, ""},
		{"EdDSA key with ES256", base, sign(t, jose.ES256, k.ec, "ed", claims(nil)), ErrNoKey, ""},
		{"unknown kid", base, sign(t, jose.RS256, k.rsa, "other", claims(nil)), ErrNoKey, ""},
		{"signed by a stranger", base, func() string {
			other, _ := rsa.GenerateKey(rand.Reader, 2048)
			return sign(t, jose.RS256, other, "rsa", claims(nil))
		}(), ErrNoKey, ""},
		{"tampered payload", base, func() string {
			tok := sign(t, jose.RS256, k.rsa, "rsa", claims(nil))
			parts := strings.Split(tok, ".")
			c, _ := json.Marshal(claims(map[string]any{"sub": "root"}))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(c) + "." + parts[2]
		}(), ErrNoKey, ""},
		{"expired", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"exp": now.Add(-time.Minute).Unix()})), ErrClaims, ""},
		{"expired within leeway", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), nil, "ann"},
		{"not yet valid", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"nbf": now.Add(time.Minute).Unix()})), ErrClaims, ""},
		{"issued in the future", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"iat": now.Add(time.Hour).Unix()})), ErrClaims, ""},
		{"no exp", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"exp": nil})), ErrClaims, ""},
		{"wrong issuer", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"iss": "https://evil.example"})), ErrClaims, ""},
		{"wrong audience", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"aud": "other"})), ErrClaims, ""},
		{"no audience", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"aud": nil})), ErrClaims, ""},
		{"audience list", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"aud": []string{"x", "api"}})), nil, "ann"},
		{"no sub", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"sub": nil})), ErrNoUser, ""},
		{"numeric sub", base, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"sub": 42})), ErrNoKey, ""},
		{"user claim", mailClaim, sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{"email": "ann@example.com"})), nil, "ann@example.com"},
		{"garbage", base, "not-a-token", ErrMalformed, ""},
		{"two parts", base, "a.b", ErrMalformed, ""},
		{"bad base64", base, "!!!.@@@.###", ErrMalformed, ""},
		{"empty", base, "", ErrMalformed, ""},
		{"huge", base, strings.Repeat("a", MaxTokenSize) + ".b.c", ErrMalformed, ""},
		{"JWE-looking", base, "a.b.c.d.e", ErrMalformed, ""},
	}
	for _, tt := range tests {
		v, err := New(tt.cfg)
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		tok, err := v.Verify(tt.token)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: Verify = %v; want valid", tt.name, err)
		case tt.want == nil && tok.User != tt.user:
			t.Errorf("%s: user = %q; want %q", tt.name, tok.User, tt.user)
		case tt.want != nil && err == nil:
			t.Errorf("%s: Verify accepted the token (user %q); want %v", tt.name, tok.User, tt.want)
		case tt.want != nil && !errors.Is(err, tt.want) && !(tt.want == ErrAlgorithm && errors.Is(err, ErrMalformed)):
			t.Errorf("%s: Verify = %v; want %v", tt.name, err, tt.want)
		}
		if err != nil && len(tt.token) > 20 && strings.Contains(err.Error(), tt.token[:20]) {
			t.Errorf("%s: error contains the token: %v", tt.name, err)
		}
	}
}

func TestEnvExport(t *testing.T) {
	k := newKeys(t)
	v, err := New(Config{JWKSFile: k.noHMAC, Now: func() time.Time { return now },
		Env: map[string]string{"email": "JWT_EMAIL", "roles": "JWT_ROLES", "n": "JWT_N", "evil": "JWT_EVIL", "missing": "JWT_MISSING"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Verify(sign(t, jose.RS256, k.rsa, "rsa", claims(map[string]any{
		"email": "ann@example.com", "roles": []string{"admin", "ops"}, "n": 3, "evil": "a\r\nSet-Cookie: x"})))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"JWT_EMAIL": "ann@example.com", "JWT_ROLES": "admin,ops", "JWT_N": "3", "JWT_EVIL": "a  Set-Cookie: x"}
	for k, w := range want {
		if tok.Env[k] != w {
			t.Errorf("Env[%s] = %q; want %q", k, tok.Env[k], w)
		}
	}
	if _, ok := tok.Env["JWT_MISSING"]; ok {
		t.Errorf("absent claim exported")
	}
}

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{JWKSFile: "x", Algorithms: []string{"none"}},
		{JWKSFile: "x", Algorithms: []string{"RS256", "HS1"}},
		{JWKSFile: "x", Env: map[string]string{"email": "BAD NAME"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestJWKSProblems(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": `{"keys":[]}`, "garbage": `{`, "weird": `{"keys":[{"kty":"RSA"}]}`} {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(content), 0o600)
		v, _ := New(Config{JWKSFile: p})
		if _, err := v.Keys(); !errors.Is(err, ErrKeySet) {
			t.Errorf("%s JWKS: Keys() = %v; want ErrKeySet", name, err)
		}
	}
	v, _ := New(Config{JWKSFile: filepath.Join(dir, "missing")})
	if _, err := v.Verify("a.b.c"); err == nil {
		t.Errorf("missing JWKS verified a token")
	}
}

func TestPrivateKeysInJWKSUsedAsPublic(t *testing.T) {
	k := newKeys(t)
	p := filepath.Join(t.TempDir(), "priv.json")
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.rsa, KeyID: "rsa"}}})
	_ = os.WriteFile(p, b, 0o600)
	v, _ := New(Config{JWKSFile: p, Now: func() time.Time { return now }})
	if _, err := v.Verify(sign(t, jose.RS256, k.rsa, "rsa", claims(nil))); err != nil {
		t.Errorf("JWKS with a private key: %v", err)
	}
}

func TestFromHeader(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "Bearer ": "", "Bearer a b": "", "Bearer a\x00b": ""} {
		got, ok := FromHeader(in)
		if got != want || ok != (want != "") {
			t.Errorf("FromHeader(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
