package sdk_test

import (
	"testing"

	"github.com/gobridge/gobridge/sdk"
)

func TestOptionLookup(t *testing.T) {
	r := &sdk.Request{}
	r.Options = sdk.Pairs{
		{Key: "Greeting", Value: "hello"},
		{Key: "realm", Value: "outer"},
		{Key: "REALM", Value: "inner"}, // a more specific section, other case
		{Key: "empty", Value: ""},
	}
	for _, tc := range []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"Greeting", "hello", true},
		{"greeting", "hello", true},
		{"GREETING", "hello", true},
		{"realm", "inner", true},
		{"empty", "", true},
		{"missing", "", false},
	} {
		got, ok := r.LookupOption(tc.key)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("LookupOption(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.wantOK)
		}
		if got := r.Option(tc.key); got != tc.want {
			t.Errorf("Option(%q) = %q; want %q", tc.key, got, tc.want)
		}
	}
}
