package bridge

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRegistryPublish(t *testing.T) {
	dir := t.TempDir()
	r := newRegistry(dir)
	inside := filepath.Join(dir, SocketDir, "plugin1")
	tests := []struct {
		op         func() bool
		desc       string
		wantTarget string // "" means no link
	}{
		{func() bool { return r.Publish("a", inside) == nil }, "Publish(a, inside)", "s/plugin1"},
		{func() bool { return r.Publish("a", "/elsewhere/plugin2") == nil }, "Publish(a, outside)", "/elsewhere/plugin2"},
		{func() bool { return !r.Unpublish("a", inside) }, "Unpublish(a, replaced socket) is refused", "/elsewhere/plugin2"},
		{func() bool { return r.Unpublish("a", "/elsewhere/plugin2") }, "Unpublish(a, current)", ""},
		{func() bool { return r.Unpublish("a", "") }, "Unpublish(a, \"\") of nothing", ""},
	}
	for _, tt := range tests {
		if !tt.op() {
			t.Fatalf("%s failed", tt.desc)
		}
		got, err := os.Readlink(r.Path("a"))
		if tt.wantTarget == "" {
			if !os.IsNotExist(err) {
				t.Errorf("after %s: Readlink(a.sock) = %q, %v; want no link", tt.desc, got, err)
			}
			continue
		}
		if err != nil || got != tt.wantTarget {
			t.Errorf("after %s: Readlink(a.sock) = %q, %v; want %q", tt.desc, got, err, tt.wantTarget)
		}
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, ".*")); len(ents) != 0 {
		t.Errorf("temporary links left behind: %v", ents)
	}
}
