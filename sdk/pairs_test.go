package sdk_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestPairs(t *testing.T) {
	notes := sdk.Pairs{{Key: "Session", Value: "a"}, {Key: "empty", Value: ""}, {Key: "session", Value: "b"}}
	tests := []struct {
		key    string
		get    string
		ok     bool
		values []string
	}{
		{"session", "a", true, []string{"a", "b"}},
		{"SESSION", "a", true, []string{"a", "b"}},
		{"empty", "", true, []string{""}},
		{"missing", "", false, nil},
	}
	for _, tt := range tests {
		if got := notes.Get(tt.key); got != tt.get {
			t.Errorf("Get(%q) = %q; want %q", tt.key, got, tt.get)
		}
		if got, ok := notes.Lookup(tt.key); got != tt.get || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.get, tt.ok)
		}
		if got := notes.Has(tt.key); got != tt.ok {
			t.Errorf("Has(%q) = %v; want %v", tt.key, got, tt.ok)
		}
		if got := notes.Values(tt.key); !slices.Equal(got, tt.values) {
			t.Errorf("Values(%q) = %q; want %q", tt.key, got, tt.values)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	tests := []struct {
		header         string
		user, password string
		ok             bool
	}{
		{"Basic YW5uOnMzY3I6dA==", "ann", "s3cr:t", true}, // ann:s3cr:t
		{"basic YW5uOg==", "ann", "", true},               // ann:
		{"Bearer YW5uOnB3", "", "", false},
		{"Basic not-base64!", "", "", false},
		{"Basic YW5u", "", "", false}, // "ann": no colon
		{"", "", "", false},
	}
	for _, tt := range tests {
		r := sdktest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		user, password, ok := r.BasicAuth()
		if user != tt.user || password != tt.password || ok != tt.ok {
			t.Errorf("BasicAuth() with %q = %q, %q, %v; want %q, %q, %v",
				tt.header, user, password, ok, tt.user, tt.password, tt.ok)
		}
	}
}

func ExamplePairs_Get() {
	r := sdktest.NewRequest("GET", "/", nil)
	r.Notes = append(r.Notes, sdk.Pair{Key: "Session-ID", Value: "42"})
	fmt.Println(r.Notes.Get("session-id"), r.Notes.Has("user"))
	// Output: 42 false
}

func ExampleRequest_BasicAuth() {
	r := sdktest.NewRequest("GET", "/private/", nil)
	r.Header.Set("Authorization", "Basic ZGVtbzpkZW1vLXBhc3N3b3Jk") // demo:demo-password
	user, password, ok := r.BasicAuth()
	fmt.Println(user, password, ok)
	// Output: demo demo-password true
}
