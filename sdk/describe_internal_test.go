package sdk

import (
	"io"
	"slices"
	"testing"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

type fixupOnly struct{}

func (fixupOnly) Fixup(*PhaseRequest) error { return nil }

// TestDescribeReportsServices checks that Describe tells gobridged every
// service a ServeConfig makes the plugin serve, and nothing else.
func TestDescribeReportsServices(t *testing.T) {
	hello := HandlerFunc(func(w *ResponseWriter, r *Request) error { return nil })
	pw := PasswordCheckerFunc(func(*Request, string, string) (AuthnResult, error) { return AuthnDenied, nil })
	rq := RequireCheckerFunc(func(*Request, string, []string) (AuthzResult, error) { return AuthzDenied, nil })
	bf := BodyFilterFunc(func(*Filter, io.Reader, io.Writer) error { return nil })
	tests := []struct {
		name    string
		cfg     ServeConfig
		phases  []pb.Phase
		pw, rq  bool
		filters bool
	}{
		{"handler", ServeConfig{Handler: hello}, []pb.Phase{pb.Phase_PHASE_HANDLER}, false, false, false},
		{"phases only", ServeConfig{Phases: fixupOnly{}}, []pb.Phase{pb.Phase_PHASE_FIXUPS}, false, false, false},
		{"auth provider", ServeConfig{PasswordChecker: pw, RequireChecker: rq}, nil, true, true, false},
		{"filter", ServeConfig{Filter: bf}, nil, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := newServer(&tt.cfg).Describe(t.Context(), &pb.DescribeRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if !d.GetReportsServices() {
				t.Errorf("ReportsServices = false; want true")
			}
			if !slices.Equal(d.GetPhases(), tt.phases) {
				t.Errorf("Phases = %v; want %v", d.GetPhases(), tt.phases)
			}
			if d.GetPasswordChecker() != tt.pw || d.GetRequireChecker() != tt.rq || d.GetRealmHasher() {
				t.Errorf("PasswordChecker, RealmHasher, RequireChecker = %v, %v, %v; want %v, false, %v",
					d.GetPasswordChecker(), d.GetRealmHasher(), d.GetRequireChecker(), tt.pw, tt.rq)
			}
			if d.GetBodyFilter() != tt.filters {
				t.Errorf("BodyFilter = %v; want %v", d.GetBodyFilter(), tt.filters)
			}
		})
	}
}
