package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Use is one directive of httpd.conf that names a plugin.
type Use struct {
	Directive string // e.g. "GoBridgeAccessHandler", "Require"
	File      string
	Line      int
}

// need is what a directive needs the plugin to serve.
type need struct {
	what  string // in log lines: "the access phase", "Basic/Digest authentication"
	check func(*gobridgev1.DescribeResponse) bool
	// service: answered by Describe only when ReportsServices is set.
	service bool
}

// phaseDirectives maps the GoBridge<Phase>Handler directives, and
// GoBridgeHandler, to the phase Describe reports for them.
var phaseDirectives = map[string]gobridgev1.Phase{
	"GoBridgeHandler":                gobridgev1.Phase_PHASE_HANDLER,
	"GoBridgePostReadRequestHandler": gobridgev1.Phase_PHASE_POST_READ_REQUEST,
	"GoBridgeTransHandler":           gobridgev1.Phase_PHASE_TRANSLATE_NAME,
	"GoBridgeMapToStorageHandler":    gobridgev1.Phase_PHASE_MAP_TO_STORAGE,
	"GoBridgeHeaderParserHandler":    gobridgev1.Phase_PHASE_HEADER_PARSER,
	"GoBridgeAccessHandler":          gobridgev1.Phase_PHASE_ACCESS,
	"GoBridgeAuthnHandler":           gobridgev1.Phase_PHASE_AUTHN,
	"GoBridgeAuthzHandler":           gobridgev1.Phase_PHASE_AUTHZ,
	"GoBridgeTypeHandler":            gobridgev1.Phase_PHASE_TYPE_CHECKER,
	"GoBridgeFixupHandler":           gobridgev1.Phase_PHASE_FIXUPS,
	"GoBridgeLogHandler":             gobridgev1.Phase_PHASE_LOG,
}

// phaseNames names the phases in log lines as the directives' docs do.
var phaseNames = map[gobridgev1.Phase]string{
	gobridgev1.Phase_PHASE_HANDLER:           "the content handler (sdk.Handler)",
	gobridgev1.Phase_PHASE_POST_READ_REQUEST: "the post_read_request phase (sdk.PostReadRequester)",
	gobridgev1.Phase_PHASE_TRANSLATE_NAME:    "the translate_name phase (sdk.Translator)",
	gobridgev1.Phase_PHASE_MAP_TO_STORAGE:    "the map_to_storage phase (sdk.StorageMapper)",
	gobridgev1.Phase_PHASE_HEADER_PARSER:     "the header_parser phase (sdk.HeaderParser)",
	gobridgev1.Phase_PHASE_ACCESS:            "the access phase (sdk.AccessChecker)",
	gobridgev1.Phase_PHASE_AUTHN:             "the authn phase (sdk.Authenticator)",
	gobridgev1.Phase_PHASE_AUTHZ:             "the authz phase (sdk.Authorizer)",
	gobridgev1.Phase_PHASE_TYPE_CHECKER:      "the type_checker phase (sdk.TypeChecker)",
	gobridgev1.Phase_PHASE_FIXUPS:            "the fixups phase (sdk.Fixupper)",
	gobridgev1.Phase_PHASE_LOG:               "the log phase (sdk.TransactionLogger)",
}

// needOf returns what directive needs, and false for a directive that
// gobridged does not know (a newer module's): nothing is checked for it.
func needOf(directive string) (need, bool) {
	if ph, ok := phaseDirectives[directive]; ok {
		return need{what: phaseNames[ph], check: func(d *gobridgev1.DescribeResponse) bool {
			return slices.Contains(d.GetPhases(), ph)
		}}, true
	}
	switch directive {
	case "GoBridgeAuthnProvider":
		// Basic or Digest depends on the AuthType of each section; either
		// provider interface answers one of them.
		return need{what: "an authentication provider (ServeConfig.PasswordChecker or RealmHasher)", service: true,
			check: func(d *gobridgev1.DescribeResponse) bool { return d.GetPasswordChecker() || d.GetRealmHasher() }}, true
	case "Require":
		return need{what: "an authorization provider (ServeConfig.RequireChecker)", service: true,
			check: (*gobridgev1.DescribeResponse).GetRequireChecker}, true
	case "GoBridgeOutputFilter", "GoBridgeInputFilter":
		return need{what: "a body filter (ServeConfig.Filter)", service: true,
			check: (*gobridgev1.DescribeResponse).GetBodyFilter}, true
	}
	return need{}, false
}

// CheckUses compares a plugin's Describe answer with the directives that
// name it and returns one problem per missing capability, naming where
// httpd.conf asks for it. Services (auth providers, filters) are checked
// only when the plugin reports them.
func CheckUses(d *gobridgev1.DescribeResponse, uses []Use) []string {
	var problems []string
	var order []string
	where := make(map[string][]Use)
	for _, u := range uses {
		n, ok := needOf(u.Directive)
		if !ok || (n.service && !d.GetReportsServices()) || n.check(d) {
			continue
		}
		key := n.what + "\x00" + u.Directive
		if _, seen := where[key]; !seen {
			order = append(order, key)
		}
		where[key] = append(where[key], u)
	}
	for _, key := range order {
		us := where[key]
		what, directive, _ := strings.Cut(key, "\x00")
		problems = append(problems, fmt.Sprintf("does not implement %s, which %s at %s sends it: those requests will fail with 500",
			what, directive, places(us)))
	}
	return problems
}

// places lists where uses are: "FILE line N", the first three of them.
func places(us []Use) string {
	var parts []string
	for i, u := range us {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(us)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s line %d", u.File, u.Line))
	}
	return strings.Join(parts, ", ")
}

// describe asks a started instance what it serves, on gobridged's own
// connection to it, within timeout.
func describe(inst *instance, timeout time.Duration) (*gobridgev1.DescribeResponse, error) {
	if inst.rpc == nil || inst.rpc.Conn == nil {
		return nil, fmt.Errorf("no connection to the plugin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return gobridgev1.NewGoBridgeClient(inst.rpc.Conn).Describe(ctx, &gobridgev1.DescribeRequest{})
}

// vet asks a started instance what it serves, before it is published: an
// instance that does not answer within Options.HealthTimeout is not
// healthy and is not given traffic. A plugin without Describe (not built with the SDK)
// passes, unchecked: the answer is nil then.
func (s *Supervisor) vet(inst *instance) (*gobridgev1.DescribeResponse, error) {
	d, err := describe(inst, s.opts.HealthTimeout)
	if status.Code(err) == codes.Unimplemented {
		inst.log.Debug("the plugin has no Describe: it cannot be checked against its directives", "pid", inst.pid)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("not healthy after its handshake: Describe: %w", err)
	}
	return d, nil
}

func (m *managed) logProblems(d *gobridgev1.DescribeResponse, uses []Use, pid int) {
	for _, p := range CheckUses(d, uses) {
		m.s.log.Error(fmt.Sprintf("plugin %q %s", m.spec.Name, p),
			"plugin", m.spec.Name, "pid", pid, "sdk", string(d.GetSdkVersion()))
	}
}
