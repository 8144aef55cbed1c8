package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1"}}})
	if err := os.WriteFile(jwks, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(claims map[string]any) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		p, _ := json.Marshal(claims)
		o, _ := s.Sign(p)
		c, _ := o.CompactSerialize()
		return c
	}
	good := sign(map[string]any{"sub": "ann", "aud": "api", "exp": time.Now().Add(time.Hour).Unix(), "email": "ann@example.com"})
	expired := sign(map[string]any{"sub": "ann", "aud": "api", "exp": time.Now().Add(-time.Hour).Unix()})

	p := newProvider()
	run := func(auth string, opts ...sdk.Pair) *sdktest.PhaseRecorder {
		r := sdktest.NewRequest("GET", "/api/x", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		r.Options = append(sdk.Pairs{{Key: "jwks", Value: jwks}, {Key: "jwt.audience", Value: "api"}, {Key: "jwt.env", Value: "email=JWT_EMAIL"}}, opts...)
		return sdktest.RunPhase(t, sdk.PhaseAuthn, p.Authenticate, r)
	}
	rec := run("Bearer " + good)
	if rec.Result != sdktest.OK || rec.Fields["user"] != "ann" || rec.Fields["auth_type"] != "Bearer" {
		t.Errorf("good token: %v %v; want OK, user ann", rec.Result, rec.Fields)
	}
	found := false
	for _, m := range rec.Mutations {
		found = found || (m.Table == sdk.TableSubprocessEnv && m.Key == "JWT_EMAIL" && m.Value == "ann@example.com")
	}
	if !found {
		t.Errorf("JWT_EMAIL not exported: %v", rec.Mutations)
	}
	for name, auth := range map[string]string{"none": "", "basic": "Basic YTpi", "expired": "Bearer " + expired, "garbage": "Bearer x.y.z", "tampered": "Bearer " + good[:len(good)-4] + "AAAA"} {
		rec := run(auth)
		if rec.Result != sdktest.HTTPStatus || rec.Status != 401 {
			t.Errorf("%s: %v %d; want 401", name, rec.Result, rec.Status)
		}
		if rec.Fields["user"] != "" {
			t.Errorf("%s: user set", name)
		}
		for _, l := range rec.Logs {
			if strings.Contains(l.Message, good[:30]) || strings.Contains(l.Message, expired[:30]) {
				t.Errorf("%s: token in log %q", name, l.Message)
			}
		}
	}
	if rec := run("Bearer "+good, sdk.Pair{Key: "jwt.audience", Value: "other"}); rec.Status != 401 {
		t.Errorf("wrong audience: %v %d; want 401", rec.Result, rec.Status)
	}
	if rec := run("Bearer "+good, sdk.Pair{Key: "jwks", Value: "/nonexistent"}); rec.Result != sdktest.HTTPStatus || rec.Status != 500 {
		t.Errorf("missing JWKS: %v %d; want 500", rec.Result, rec.Status)
	}
	// A signed subject httpd cannot take as r->user fails the request
	// (SetUser's error), never logs in without a user. (jwt.env values
	// have their control characters removed by auth/jwt.)
	ctl := sign(map[string]any{"sub": "ann\x01", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()})
	if rec := run("Bearer " + ctl); rec.Result != sdktest.HTTPStatus || rec.Status != 500 || len(rec.Fields) != 0 {
		t.Errorf("control character in sub: %v %d %v; want 500 changing nothing", rec.Result, rec.Status, rec.Fields)
	}
}
