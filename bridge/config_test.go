package bridge

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []PluginSpec // nil with wantErr
		wantErr string       // substring of the error
	}{
		{name: "empty", in: "", want: []PluginSpec{}},
		{name: "comments and blanks", in: "# c\n\n   \n#plugin\tx\t/y\n", want: []PluginSpec{}},
		{name: "one", in: "plugin\thello\t/usr/lib/gobridge/hello\n",
			want: []PluginSpec{{Name: "hello", Path: "/usr/lib/gobridge/hello", Line: 1}}},
		{name: "args and no final newline", in: "# x\nplugin\ta.b_c-1\t/bin/p\t-v\t\tlast arg",
			want: []PluginSpec{{Name: "a.b_c-1", Path: "/bin/p", Args: []string{"-v", "", "last arg"}, Line: 2}}},
		{name: "two", in: "plugin\ta\t/a\nplugin\tb\t/b\tx\n",
			want: []PluginSpec{{Name: "a", Path: "/a", Line: 1}, {Name: "b", Path: "/b", Args: []string{"x"}, Line: 2}}},
		{name: "unknown record", in: "\nplugn\ta\t/a\n", wantErr: `gobridged.spec:2: unknown record type "plugn"`},
		{name: "spaces not tabs", in: "plugin a /a\n", wantErr: `:1: unknown record type "plugin a /a"`},
		{name: "missing path", in: "plugin\ta\n", wantErr: ":1: plugin record needs at least a name and a binary path"},
		{name: "empty name", in: "plugin\t\t/a\n", wantErr: `:1: invalid plugin name ""`},
		{name: "bad name", in: "plugin\ta/b\t/a\n", wantErr: `invalid plugin name "a/b": use 1 to 64 characters`},
		{name: "long name", in: "plugin\t" + strings.Repeat("x", 65) + "\t/a\n", wantErr: "invalid plugin name"},
		{name: "64 is fine", in: "plugin\t" + strings.Repeat("x", 64) + "\t/a\n",
			want: []PluginSpec{{Name: strings.Repeat("x", 64), Path: "/a", Line: 1}}},
		{name: "relative path", in: "plugin\ta\tbin/a\n", wantErr: `:1: plugin "a": binary path "bin/a" is not absolute`},
		{name: "CRLF", in: "plugin\ta\t/a\r\n", wantErr: `:1: plugin "a": binary path contains CR or NUL`},
		{name: "NUL in arg", in: "plugin\ta\t/a\tx\x00y\n", wantErr: `argument 1 contains CR or NUL`},
		{name: "duplicate", in: "plugin\ta\t/a\n#\nplugin\ta\t/b\n", wantErr: `:3: plugin "a" is already declared on line 1`},
		{name: "too long", in: "plugin\ta\t/a\t" + strings.Repeat("x", maxSpecLine) + "\n", wantErr: ":1: line longer than"},
		{name: "uses, before and after their plugin", in: "use\ta\tGoBridgeHandler\t/etc/h.conf\t3\nplugin\ta\t/a\nuse\tb\tRequire\t/etc/h.conf\t9\nuse\ta\tGoBridgeFixupHandler\t/etc/x y.conf\t12\n",
			want: []PluginSpec{{Name: "a", Path: "/a", Line: 2, Uses: []Use{
				{Directive: "GoBridgeHandler", File: "/etc/h.conf", Line: 3},
				{Directive: "GoBridgeFixupHandler", File: "/etc/x y.conf", Line: 12}}}}},
		{name: "build", in: "plugin\ta\t/a\nbuild\ta\t2049:1234:5000:1733500000000000\n",
			want: []PluginSpec{{Name: "a", Path: "/a", Line: 1, Build: "2049:1234:5000:1733500000000000"}}},
		{name: "autoreload without a number", in: "autoreload\tsoon\n", wantErr: ":1: autoreload record needs a number of milliseconds"},
		{name: "build without identity", in: "plugin\ta\t/a\nbuild\ta\n", wantErr: ":2: build record needs a name and an identity"},
		{name: "use without line", in: "plugin\ta\t/a\nuse\ta\tRequire\t/etc/h.conf\n", wantErr: ":2: use record needs 4 TAB-separated fields"},
		{name: "use with a bad line", in: "use\ta\tRequire\t/etc/h.conf\tx\n", wantErr: `:1: use record: line "x" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSpec(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSpec) {
					t.Fatalf("ParseSpec(%q) error = %v; want one containing %q wrapping ErrSpec", trunc(tt.in), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q) error = %v; want nil", trunc(tt.in), err)
			}
			if !slices.EqualFunc(got.Plugins, tt.want, func(a, b PluginSpec) bool {
				return a.Equal(b) && a.Line == b.Line && slices.Equal(a.Uses, b.Uses) && a.Build == b.Build
			}) {
				t.Errorf("ParseSpec(%q) = %+v; want %+v", trunc(tt.in), got.Plugins, tt.want)
			}
		})
	}
}

func TestParseSpecAutoReload(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"plugin\ta\t/a\n", 0},
		{"plugin\ta\t/a\nautoreload\t2000\n", 2 * time.Second},
		{"autoreload\t150\n", 150 * time.Millisecond},
	} {
		s, err := ParseSpec(strings.NewReader(tt.in))
		if err != nil || s.AutoReload != tt.want {
			t.Errorf("ParseSpec(%q).AutoReload = %v, %v; want %v", tt.in, s.AutoReload, err, tt.want)
		}
	}
}

func TestSpecInstances(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // instance names, and their pools after '@'
		wantErr string
	}{
		{"plugin\ta\t/a\n", []string{"a@"}, ""},
		{"plugin\ta\t/a\nprocesses\ta\t3\nplugin\tb\t/b\n", []string{"a.0@a", "a.1@a", "a.2@a", "b@"}, ""},
		{"processes\ta\t1\nplugin\ta\t/a\n", []string{"a@"}, ""},
		{"plugin\ta\t/a\nprocesses\ta\t2\nplugin\ta.1\t/b\n", nil, `plugin "a.1" is also the name of process 1 of the pool "a"`},
		{"plugin\ta\t/a\nprocesses\ta\t65\n", nil, "processes record needs a name and a number from 1 to 64"},
	}
	for _, tt := range tests {
		s, err := ParseSpec(strings.NewReader(tt.in))
		var insts []PluginSpec
		if err == nil {
			insts, err = s.Instances()
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("spec %q: error %v; want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		var got []string
		for _, p := range insts {
			got = append(got, p.Name+"@"+p.Pool)
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("spec %q: instances %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestReadSpecNamesFile(t *testing.T) {
	_, err := ReadSpec("/nonexistent/gobridged.spec")
	if !errors.Is(err, ErrSpec) {
		t.Errorf("ReadSpec(missing) = %v; want ErrSpec", err)
	}
}

func TestPluginSpecEqual(t *testing.T) {
	base := PluginSpec{Name: "a", Path: "/a", Args: []string{"x"}, Line: 1}
	tests := []struct {
		q    PluginSpec
		want bool
	}{
		{PluginSpec{Name: "a", Path: "/a", Args: []string{"x"}, Line: 7}, true},
		{PluginSpec{Name: "a", Path: "/a", Args: []string{"x"}, Uses: []Use{{Directive: "Require", File: "/h", Line: 2}}}, true},
		{PluginSpec{Name: "a", Path: "/a", Args: []string{"x"}, Build: "1:2:3:4"}, false},
		{PluginSpec{Name: "a", Path: "/a", Args: []string{"y"}}, false},
		{PluginSpec{Name: "a", Path: "/a"}, false},
		{PluginSpec{Name: "a", Path: "/b", Args: []string{"x"}}, false},
		{PluginSpec{Name: "b", Path: "/a", Args: []string{"x"}}, false},
	}
	for _, tt := range tests {
		if got := base.Equal(tt.q); got != tt.want {
			t.Errorf("%+v.Equal(%+v) = %v; want %v", base, tt.q, got, tt.want)
		}
	}
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
