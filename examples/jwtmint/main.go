// Command jwtmint makes a signing key, its JWKS and signed JWTs for trying
// gobridge's bearer-token authentication (make demo uses it). It is a demo
// tool, not an identity provider.
//
//	jwtmint -dir /tmp/keys -sub ann -aud api -claim email=ann@example.com
//
// creates /tmp/keys/signing-key.json (ES256 private key, kept if present)
// and /tmp/keys/jwks.json (its public half) and prints a token valid for
// -ttl.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type claims []string

func (c *claims) String() string     { return strings.Join(*c, ",") }
func (c *claims) Set(s string) error { *c = append(*c, s); return nil }

func main() {
	dir := flag.String("dir", ".", "directory for signing-key.json and jwks.json")
	sub := flag.String("sub", "demo", "subject (becomes the Apache user)")
	aud := flag.String("aud", "", "audience")
	iss := flag.String("iss", "", "issuer")
	ttl := flag.Duration("ttl", time.Hour, "lifetime (negative: already expired)")
	var extra claims
	flag.Var(&extra, "claim", "extra string claim name=value (repeatable)")
	flag.Parse()

	key, err := loadOrCreate(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jwtmint:", err)
		os.Exit(1)
	}
	now := time.Now()
	c := map[string]any{"sub": *sub, "iat": now.Unix(), "exp": now.Add(*ttl).Unix()}
	if *aud != "" {
		c["aud"] = *aud
	}
	if *iss != "" {
		c["iss"] = *iss
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		c[k] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "demo"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "jwtmint:", err)
		os.Exit(1)
	}
	payload, _ := json.Marshal(c)
	obj, err := signer.Sign(payload)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jwtmint:", err)
		os.Exit(1)
	}
	tok, _ := obj.CompactSerialize()
	fmt.Println(tok)
}

func loadOrCreate(dir string) (*ecdsa.PrivateKey, error) {
	priv := filepath.Join(dir, "signing-key.json")
	var jwk jose.JSONWebKey
	b, err := os.ReadFile(priv)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &jwk); err != nil {
			return nil, fmt.Errorf("%s: %w", priv, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		jwk = jose.JSONWebKey{Key: k, KeyID: "demo", Algorithm: "ES256", Use: "sig"}
		b, _ := json.Marshal(jwk)
		if err := os.WriteFile(priv, b, 0o600); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	k, ok := jwk.Key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA private key", priv)
	}
	pub, _ := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}, "", "  ")
	return k, os.WriteFile(filepath.Join(dir, "jwks.json"), pub, 0o644)
}
