package sdk_test

import (
	"errors"
	"io"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

var allTables = []sdk.Table{sdk.TableHeadersIn, sdk.TableHeadersOut, sdk.TableErrHeadersOut,
	sdk.TableNotes, sdk.TableSubprocessEnv, sdk.TableConnNotes}

// setIn runs one Request.Set(t, "X-K", "v") in the kind of call named and
// returns whether the change reached the module's side, and Set's error.
var setIn = map[string]func(t *testing.T, tab sdk.Table) (bool, error){
	"phase": func(t *testing.T, tab sdk.Table) (bool, error) {
		var err error
		rec := sdktest.RunPhase(t, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
			err = r.Set(tab, "X-K", "v")
			return nil
		}, sdktest.NewRequest("GET", "/", nil))
		return len(rec.Mutations) == 1, err
	},
	"handler": func(t *testing.T, tab sdk.Table) (bool, error) {
		var err error
		rec := sdktest.Serve(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
			err = r.Set(tab, "X-K", "v")
			return nil
		}), sdktest.NewRequest("GET", "/", nil))
		return len(rec.Notes)+len(rec.Env) == 1, err
	},
	"auth provider": func(t *testing.T, tab sdk.Table) (bool, error) {
		var err error
		rec := sdktest.CheckPassword(t, sdk.PasswordCheckerFunc(func(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
			err = r.Set(tab, "X-K", "v")
			return sdk.AuthnGranted, nil
		}), nil, "ann", "pw")
		return len(rec.Notes)+len(rec.Env) == 1, err
	},
	"output filter": func(t *testing.T, tab sdk.Table) (bool, error) {
		return filterSet(t, tab, sdk.OutputFilter)
	},
	"input filter": func(t *testing.T, tab sdk.Table) (bool, error) {
		return filterSet(t, tab, sdk.InputFilter)
	},
}

func filterSet(t *testing.T, tab sdk.Table, kind sdk.FilterKind) (bool, error) {
	var err error
	rec := sdktest.RunFilter(t, sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		err = f.Set(tab, "X-K", "v")
		_, cerr := io.Copy(out, in)
		return cerr
	}), kind, sdktest.NewRequest("GET", "/", nil), []byte("body"))
	return len(rec.Mutations) == 1, err
}

// TestChangeTablesPerCall: which tables each kind of call may change, the
// sets mod_gobridge checks too (gb_mutate.h's GB_MUTATE_TABLES_*). A
// refused change returns ErrInvalidChange and reaches nothing.
func TestChangeTablesPerCall(t *testing.T) {
	may := map[string][]sdk.Table{
		"phase":         allTables,
		"handler":       {sdk.TableNotes, sdk.TableSubprocessEnv},
		"auth provider": {sdk.TableNotes, sdk.TableSubprocessEnv},
		"output filter": {sdk.TableHeadersOut, sdk.TableErrHeadersOut, sdk.TableNotes, sdk.TableSubprocessEnv},
		"input filter":  nil,
	}
	for who, allowed := range may {
		for _, tab := range allTables {
			want := false
			for _, a := range allowed {
				want = want || a == tab
			}
			sent, err := setIn[who](t, tab)
			switch {
			case want && (err != nil || !sent):
				t.Errorf("%s: Set(%v) = %v, sent %v; want nil, sent", who, tab, err, sent)
			case !want && (!errors.Is(err, sdk.ErrInvalidChange) || sent):
				t.Errorf("%s: Set(%v) = %v, sent %v; want ErrInvalidChange, nothing sent", who, tab, err, sent)
			}
		}
	}
}

// TestChangeRuleIsTheSameEverywhere: the same invalid keys and values are
// refused in every kind of call (in a table each may change).
func TestChangeRuleIsTheSameEverywhere(t *testing.T) {
	bad := []struct{ name, key, value string }{
		{"key with a space", "a b", "v"},
		{"key with a colon", "a:", "v"},
		{"empty key", "", "v"},
		{"CR LF in value", "k", "a\r\nInjected: 1"},
		{"NUL in value", "k", "a\x00"},
		{"control character in value", "k", "a\x01"},
		{"DEL in value", "k", "a\x7f"},
	}
	good := []struct{ name, key, value string }{
		{"plain", "X-Trace", "abc"},
		{"HTAB in value", "k", "a\tb"},
		{"empty value", "k", ""},
		{"non-ASCII value", "k", "café"},
	}
	calls := map[string]func(r *sdk.Request, k, v string) error{
		"note": (*sdk.Request).SetNote,
		"env":  (*sdk.Request).SetEnv,
	}
	for name, set := range calls {
		for _, c := range bad {
			var errs []error
			sdktest.RunPhase(t, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
				errs = append(errs, set(r.Request, c.key, c.value))
				return nil
			}, sdktest.NewRequest("GET", "/", nil))
			sdktest.Serve(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
				errs = append(errs, set(r, c.key, c.value))
				return nil
			}), sdktest.NewRequest("GET", "/", nil))
			sdktest.CheckPassword(t, sdk.PasswordCheckerFunc(func(r *sdk.Request, _, _ string) (sdk.AuthnResult, error) {
				errs = append(errs, set(r, c.key, c.value))
				return sdk.AuthnGranted, nil
			}), nil, "ann", "pw")
			sdktest.RunFilter(t, sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
				errs = append(errs, set(f.Request, c.key, c.value))
				return nil
			}), sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), nil)
			for i, err := range errs {
				if !errors.Is(err, sdk.ErrInvalidChange) {
					t.Errorf("%s %s in call %d of 4: %v; want ErrInvalidChange", name, c.name, i, err)
				}
			}
		}
		for _, c := range good {
			var err error
			sdktest.CheckPassword(t, sdk.PasswordCheckerFunc(func(r *sdk.Request, _, _ string) (sdk.AuthnResult, error) {
				err = set(r, c.key, c.value)
				return sdk.AuthnGranted, nil
			}), nil, "ann", "pw")
			if err != nil {
				t.Errorf("%s %s by a provider: %v; want nil", name, c.name, err)
			}
		}
	}
}

// A Request the sdk is not serving (built by hand) has nowhere to send a
// change: it says so instead of dropping it.
func TestChangeOnHandBuiltRequest(t *testing.T) {
	if err := new(sdk.Request).SetNote("k", "v"); !errors.Is(err, sdk.ErrInvalidChange) {
		t.Errorf("SetNote on sdk.Request{} = %v; want ErrInvalidChange", err)
	}
}
