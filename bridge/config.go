package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SpecFile is the name of the plugin list inside the runtime directory.
const SpecFile = "gobridged.spec"

// maxSpecLine bounds one line of the spec (a plugin with its arguments).
const maxSpecLine = 1 << 20

// maxNameLen is the longest plugin name accepted.
const maxNameLen = 64

// maxProcesses bounds a pool (GB_CONFIG_PROCESSES_MAX in the module).
const maxProcesses = 64

// Spec is the parsed content of gobridged.spec: the plugins to run, in the
// order they were declared.
type Spec struct {
	Plugins []PluginSpec
	// AutoReload is how often gobridged looks for new builds of the
	// plugins' binaries and starts them (GoBridgeAutoReload); 0: never.
	AutoReload time.Duration
}

// PluginSpec declares one plugin: one process, shared by every httpd child.
type PluginSpec struct {
	// Name is the GoBridgePlugin name: [A-Za-z0-9_.-]{1,64}. The plugin's
	// socket is published as NAME.sock. Required.
	Name string
	// Path is the absolute path of the plugin binary. Required.
	Path string
	// Args are the arguments passed to the binary (not including argv[0]).
	// Empty arguments are kept. Default: none.
	Args []string
	// Line is the spec line the plugin was declared on (0 if not parsed).
	Line int
	// Processes is how many processes run the plugin (GoBridgePlugin's
	// processes=N); Instances runs a pool's as NAME.0 … NAME.N-1. 0 or 1:
	// one, named NAME.
	Processes int
	// Pool is the pool an instance belongs to (its GoBridgePlugin name),
	// "" for a plugin of one process.
	Pool string
	// Build identifies the binary as httpd's parent saw it (device, inode,
	// size, mtime): a different Build is a new build of the plugin, which
	// a reload starts in place of the running one. "" when unknown.
	Build string
	// Uses are the directives of httpd.conf that name the plugin, in the
	// order httpd read them: what gobridged checks against the plugin's
	// Describe answer at start. Equal ignores them.
	Uses []Use
}

// Instances returns the processes to run: each plugin, and each process
// of a pool as its own instance named NAME.I (I from 0), which gobridged
// supervises and publishes (NAME.I.sock) like a plugin. It fails when an
// instance's name is another plugin's.
func (s *Spec) Instances() ([]PluginSpec, error) {
	var out []PluginSpec
	seen := make(map[string]bool)
	for _, p := range s.Plugins {
		seen[p.Name] = true
	}
	for _, p := range s.Plugins {
		if p.Processes <= 1 {
			out = append(out, p)
			continue
		}
		for i := 0; i < p.Processes; i++ {
			q := p
			q.Name, q.Pool, q.Processes = fmt.Sprintf("%s.%d", p.Name, i), p.Name, 0
			if seen[q.Name] {
				return nil, &SpecError{Line: p.Line, Msg: fmt.Sprintf("plugin %q is also the name of process %d of the pool %q: rename one of them", q.Name, i, p.Name)}
			}
			out = append(out, q)
		}
	}
	return out, nil
}

// Equal reports whether p and q run the same process: same name, path,
// arguments and build. Reload keeps a running plugin untouched when they
// are equal.
func (p PluginSpec) Equal(q PluginSpec) bool {
	return p.Name == q.Name && p.Path == q.Path && slices.Equal(p.Args, q.Args) && p.Build == q.Build
}

// ReadSpec reads and validates the spec file at path.
func ReadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (httpd's parent writes it in post_config; check GoBridgeSocketDir)", ErrSpec, err)
	}
	defer func() { _ = f.Close() }()
	s, err := ParseSpec(f)
	if se, ok := errors.AsType[*SpecError](err); ok {
		se.File = path
	}
	return s, err
}

// ParseSpec parses and validates a spec in the format of docs/architecture.md
// §2: one record per line, fields separated by TAB; blank lines and lines
// starting with '#' are ignored; the record types are
//
//	plugin<TAB>NAME<TAB>/abs/path/to/binary[<TAB>ARG]...
//	build<TAB>NAME<TAB>IDENTITY
//	use<TAB>NAME<TAB>DIRECTIVE<TAB>FILE<TAB>LINE
//	processes<TAB>NAME<TAB>N
//	autoreload<TAB>MILLISECONDS
//
// Build and use records name a plugin declared by a plugin record (before
// or after them); one naming no declared plugin is ignored.
// Any problem is reported as a *SpecError naming the line.
func ParseSpec(r io.Reader) (*Spec, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSpecLine)
	sc.Split(scanLF)
	var s Spec
	uses := make(map[string][]Use)
	builds := make(map[string]string)
	procs := make(map[string]int)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		switch fields[0] {
		case "plugin":
		case "use":
			u, name, err := parseUse(fields)
			if err != nil {
				return nil, &SpecError{Line: line, Msg: err.Error()}
			}
			uses[name] = append(uses[name], u)
			continue
		case "autoreload":
			ms, err := strconv.Atoi(strings.Join(fields[1:], "\t"))
			if err != nil || ms < 0 {
				return nil, &SpecError{Line: line, Msg: "autoreload record needs a number of milliseconds: autoreload<TAB>MS"}
			}
			s.AutoReload = time.Duration(ms) * time.Millisecond
			continue
		case "processes":
			n := 0
			if len(fields) == 3 {
				n, _ = strconv.Atoi(fields[2])
			}
			if n < 1 || n > maxProcesses {
				return nil, &SpecError{Line: line, Msg: fmt.Sprintf("processes record needs a name and a number from 1 to %d: processes<TAB>NAME<TAB>N", maxProcesses)}
			}
			procs[fields[1]] = n
			continue
		case "build":
			if len(fields) != 3 || fields[2] == "" || strings.ContainsAny(fields[2], "\r\x00") {
				return nil, &SpecError{Line: line, Msg: "build record needs a name and an identity: build<TAB>NAME<TAB>IDENTITY"}
			}
			builds[fields[1]] = fields[2]
			continue
		default:
			return nil, &SpecError{Line: line, Msg: fmt.Sprintf(
				"unknown record type %q: the record types are \"plugin\", \"build\", \"processes\", \"use\" and \"autoreload\" (the spec is written by mod_gobridge; is gobridged older than the module?)",
				fields[0])}
		}
		if len(fields) < 3 {
			return nil, &SpecError{Line: line, Msg: "plugin record needs at least a name and a binary path separated by TABs: plugin<TAB>NAME<TAB>/abs/path[<TAB>ARG]..."}
		}
		p := PluginSpec{Name: fields[1], Path: fields[2], Line: line}
		if len(fields) > 3 {
			p.Args = fields[3:]
		}
		if err := p.validate(); err != nil {
			return nil, &SpecError{Line: line, Msg: err.Error()}
		}
		s.Plugins = append(s.Plugins, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &SpecError{Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes: shorten the GoBridgePlugin arguments", maxSpecLine)}
		}
		return nil, fmt.Errorf("%w: reading: %v", ErrSpec, err)
	}
	for i := range s.Plugins {
		s.Plugins[i].Uses = uses[s.Plugins[i].Name]
		s.Plugins[i].Build = builds[s.Plugins[i].Name]
		s.Plugins[i].Processes = procs[s.Plugins[i].Name]
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// parseUse parses the fields of a use record.
func parseUse(fields []string) (Use, string, error) {
	if len(fields) != 5 {
		return Use{}, "", fmt.Errorf("use record needs 4 TAB-separated fields: use<TAB>NAME<TAB>DIRECTIVE<TAB>FILE<TAB>LINE")
	}
	n, err := strconv.Atoi(fields[4])
	if err != nil || n < 0 {
		return Use{}, "", fmt.Errorf("use record: line %q is not a number", fields[4])
	}
	if fields[2] == "" || strings.ContainsAny(fields[2]+fields[3], "\r\x00") {
		return Use{}, "", fmt.Errorf("use record: empty directive, or CR or NUL in its directive or file")
	}
	return Use{Directive: fields[2], File: fields[3], Line: n}, fields[1], nil
}

// Validate checks every plugin and that no name is declared twice. It
// reports the first problem as a *SpecError.
func (s *Spec) Validate() error {
	seen := make(map[string]int, len(s.Plugins))
	for _, p := range s.Plugins {
		if err := p.validate(); err != nil {
			return &SpecError{Line: p.Line, Msg: err.Error()}
		}
		if first, dup := seen[p.Name]; dup {
			return &SpecError{Line: p.Line, Msg: fmt.Sprintf(
				"plugin %q is already declared on line %d: give each GoBridgePlugin a unique name", p.Name, first)}
		}
		seen[p.Name] = p.Line
	}
	return nil
}

// validate checks one plugin's fields.
func (p PluginSpec) validate() error {
	if !validName(p.Name) {
		return fmt.Errorf("invalid plugin name %q: use 1 to %d characters from A-Z a-z 0-9 _ . -", p.Name, maxNameLen)
	}
	if p.Path == "" || !filepath.IsAbs(p.Path) {
		return fmt.Errorf("plugin %q: binary path %q is not absolute: give GoBridgePlugin the full path of the binary", p.Name, p.Path)
	}
	for i, f := range append([]string{p.Path}, p.Args...) {
		if strings.ContainsAny(f, "\r\x00") {
			what := "binary path"
			if i > 0 {
				what = fmt.Sprintf("argument %d", i)
			}
			return fmt.Errorf("plugin %q: %s contains CR or NUL: remove it from the GoBridgePlugin directive", p.Name, what)
		}
	}
	return nil
}

// validName reports whether name matches [A-Za-z0-9_.-]{1,64}. Every such
// name gives a plain file name NAME.sock ("." gives "..sock").
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// scanLF is bufio.ScanLines without its CR stripping: a CR in the spec is
// an error the user must see, not something to hide.
func scanLF(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
