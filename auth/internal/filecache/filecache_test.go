package filecache

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func parseText(b []byte) (string, error) { return string(b), nil }

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// watched reports whether f's Gets count on inotify.
func (f *File[T]) watched() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ws != nil && f.ws.isWatched()
}

func mustGet(t *testing.T, f *File[string], want string) {
	t.Helper()
	got, err := f.Get()
	if err != nil || got != want {
		t.Fatalf("Get = %q, %v; want %q", got, err, want)
	}
}

// Every edit is seen by the very next Get, however the file is changed,
// watched or not.
func TestEditsSeenAtOnce(t *testing.T) {
	edits := []struct {
		name string
		do   func(t *testing.T, path string) (want string, wantErr bool)
	}{
		{"rewrite in place", func(t *testing.T, p string) (string, bool) { write(t, p, "two"); return "two", false }},
		{"same size in place", func(t *testing.T, p string) (string, bool) { write(t, p, "tw0"); return "tw0", false }},
		{"renamed over (htpasswd's way)", func(t *testing.T, p string) (string, bool) {
			tmp := p + ".tmp"
			write(t, tmp, "three")
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
			return "three", false
		}},
		{"removed", func(t *testing.T, p string) (string, bool) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			return "", true
		}},
		{"created again", func(t *testing.T, p string) (string, bool) { write(t, p, "four"); return "four", false }},
		{"appended", func(t *testing.T, p string) (string, bool) {
			fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.WriteString("+")
			fh.Close()
			return "four+", false
		}},
	}
	for _, mode := range []string{"watched", "symlink (stat)"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "users")
			write(t, path, "one")
			open := path
			if mode != "watched" {
				open = filepath.Join(dir, "link")
				if err := os.Symlink(path, open); err != nil {
					t.Fatal(err)
				}
			}
			f := New(open, parseText)
			mustGet(t, f, "one")
			if watched := f.watched(); watched != (mode == "watched") {
				t.Fatalf("watched = %v in mode %s", watched, mode)
			}
			mustGet(t, f, "one")
			for _, e := range edits {
				want, wantErr := e.do(t, path)
				got, err := f.Get()
				if wantErr {
					if err == nil {
						t.Fatalf("%s: Get = %q, nil; want an error", e.name, got)
					}
					continue
				}
				if err != nil || got != want {
					t.Fatalf("%s: Get = %q, %v; want %q", e.name, got, err, want)
				}
			}
		})
	}
}

// Without an event the file is neither stat'ed nor read: a copy that
// changed behind inotify's back (impossible for a real edit) stays.
func TestWatchedGetSkipsStat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	write(t, path, "one")
	reads := 0
	f := New(path, func(b []byte) (string, error) { reads++; return string(b), nil })
	mustGet(t, f, "one")
	if !f.watched() {
		t.Skip("inotify unavailable here: the stat path is what TestEditsSeenAtOnce covered")
	}
	for range 100 {
		mustGet(t, f, "one")
	}
	if reads != 1 {
		t.Fatalf("parsed %d times for one version of the file", reads)
	}
	// An event for another file in the same directory re-stats, but does
	// not re-read an unchanged file.
	write(t, filepath.Join(dir, "other"), "x")
	mustGet(t, f, "one")
	if reads != 1 {
		t.Fatalf("an unrelated file made us parse again (%d)", reads)
	}
}

// Gets that run concurrently with edits, and with each other draining the
// event queue, never return a version older than the last edit that
// finished before they began: the lock-free path of Get keeps the
// guarantee of a stat per Get.
func TestConcurrentGetsSeeEveryEdit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	write(t, path, "0")
	f := New(path, parseText)
	mustGet(t, f, "0")
	var edited atomic.Int64 // the last edit whose rename returned
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				want := edited.Load()
				got, err := f.Get()
				n, aerr := strconv.Atoi(got)
				if err != nil || aerr != nil || int64(n) < want {
					errs <- fmt.Errorf("Get = %q, %v after edit %d had finished", got, err, want)
					return
				}
			}
		}()
	}
	for i := 1; i <= 300; i++ {
		tmp := path + ".tmp"
		write(t, tmp, strconv.Itoa(i))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		edited.Store(int64(i))
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	mustGet(t, f, "300")
}

// The directory going away leaves the File on stat per Get, still right.
func TestDirectoryRemoved(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "d")
	os.Mkdir(dir, 0o700)
	path := filepath.Join(dir, "users")
	write(t, path, "one")
	f := New(path, parseText)
	mustGet(t, f, "one")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(); err == nil {
		t.Fatal("Get succeeded after the directory was removed")
	}
	os.Mkdir(dir, 0o700)
	write(t, path, "two")
	mustGet(t, f, "two")
	if f.watched() {
		t.Fatal("still counting on a watch of a directory that is gone")
	}
}

func TestManyFilesOneInstance(t *testing.T) {
	dir := t.TempDir()
	var files []*File[string]
	for i := range 300 { // more than the default 128 inotify instances
		p := filepath.Join(dir, "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".txt")
		write(t, p, "v")
		f := New(p, parseText)
		mustGet(t, f, "v")
		files = append(files, f)
	}
	write(t, files[0].Path(), "w")
	mustGet(t, files[0], "w")
}

func BenchmarkGet(b *testing.B) {
	for _, mode := range []string{"watched", "stat"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "users")
			write(b, path, "one")
			open := path
			if mode == "stat" {
				open = filepath.Join(dir, "link")
				os.Symlink(path, open)
			}
			f := New(open, parseText)
			f.Get()
			b.ReportAllocs()
			for b.Loop() {
				f.Get()
			}
		})
	}
}
