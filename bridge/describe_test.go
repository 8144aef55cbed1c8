package bridge

import (
	"slices"
	"strings"
	"testing"

	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
)

func TestCheckUses(t *testing.T) {
	handlerOnly := &gobridgev1.DescribeResponse{Phases: []gobridgev1.Phase{gobridgev1.Phase_PHASE_HANDLER}, ReportsServices: true}
	oldSDK := &gobridgev1.DescribeResponse{Phases: []gobridgev1.Phase{gobridgev1.Phase_PHASE_HANDLER, gobridgev1.Phase_PHASE_FIXUPS}}
	provider := &gobridgev1.DescribeResponse{ReportsServices: true, RealmHasher: true, RequireChecker: true}
	u := func(d string, line int) Use { return Use{Directive: d, File: "/etc/apache2/gb.conf", Line: line} }
	tests := []struct {
		name string
		d    *gobridgev1.DescribeResponse
		uses []Use
		want []string // substrings, one per problem, in order
	}{
		{"all served", handlerOnly, []Use{u("GoBridgeHandler", 3), u("GoBridgeHandler", 9)}, nil},
		{"phase missing", handlerOnly, []Use{u("GoBridgeHandler", 3), u("GoBridgeAccessHandler", 4)},
			[]string{"does not implement the access phase (sdk.AccessChecker), which GoBridgeAccessHandler at /etc/apache2/gb.conf line 4 sends it"}},
		{"grouped per directive, at most three places", handlerOnly,
			[]Use{u("GoBridgeFixupHandler", 1), u("GoBridgeFixupHandler", 2), u("Require", 5), u("GoBridgeFixupHandler", 3), u("GoBridgeFixupHandler", 4), u("GoBridgeFixupHandler", 6)},
			[]string{"the fixups phase (sdk.Fixupper), which GoBridgeFixupHandler at /etc/apache2/gb.conf line 1, /etc/apache2/gb.conf line 2, /etc/apache2/gb.conf line 3, and 2 more sends it",
				"an authorization provider (ServeConfig.RequireChecker), which Require at /etc/apache2/gb.conf line 5"}},
		{"services unknown to an older SDK are not checked", oldSDK,
			[]Use{u("Require", 1), u("GoBridgeOutputFilter", 2), u("GoBridgeFixupHandler", 3), u("GoBridgeLogHandler", 4)},
			[]string{"the log phase (sdk.TransactionLogger), which GoBridgeLogHandler"}},
		{"providers and filters", provider,
			[]Use{u("GoBridgeAuthnProvider", 1), u("Require", 2), u("GoBridgeInputFilter", 3), u("GoBridgeHandler", 4)},
			[]string{"a body filter (ServeConfig.Filter), which GoBridgeInputFilter", "the content handler (sdk.Handler), which GoBridgeHandler"}},
		{"unknown directive ignored", handlerOnly, []Use{u("GoBridgeFutureThing", 1)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckUses(tt.d, tt.uses)
			if !slices.EqualFunc(got, tt.want, strings.Contains) {
				t.Errorf("CheckUses() = %q; want one problem containing each of %q", got, tt.want)
			}
		})
	}
}
