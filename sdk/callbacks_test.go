package sdk_test

import (
	"errors"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestInternalRedirect(t *testing.T) {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("X-Dropped", "1")
		_, _ = w.WriteString("dropped")
		if err := w.InternalRedirect("/other?q=1"); err != nil {
			return err
		}
		if _, err := w.WriteString("more"); !errors.Is(err, sdk.ErrHandedOff) {
			t.Errorf("Write after InternalRedirect = %v; want ErrHandedOff", err)
		}
		return nil
	})
	rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
	if rec.Redirect != "/other?q=1" || rec.Finish != sdktest.OK || rec.Code != 0 || rec.Body.Len() != 0 {
		t.Errorf("redirect = %q, finish %v, code %d, body %q; want /other?q=1, OK, no head, no body",
			rec.Redirect, rec.Finish, rec.Code, rec.Body)
	}
	if rec.Messages != 1 {
		t.Errorf("messages = %d; want 1 (no round trip)", rec.Messages)
	}
}

func TestInternalRedirectRefused(t *testing.T) {
	for _, uri := range []string{"", "relative", "http://elsewhere/", "/a b", "/a\r\nX: y", "/a\x00", "/a#frag"} {
		h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
			if err := w.InternalRedirect(uri); err == nil {
				t.Errorf("InternalRedirect(%q) = nil; want an error", uri)
			}
			return nil
		})
		rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
		if rec.Redirect != "" || rec.Code != 200 {
			t.Errorf("after refused InternalRedirect(%q): redirect %q code %d; want none, 200", uri, rec.Redirect, rec.Code)
		}
	}
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_ = w.Flush()
		if err := w.InternalRedirect("/y"); err == nil {
			t.Error("InternalRedirect after Flush = nil; want an error")
		}
		return nil
	})
	if rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil)); rec.Redirect != "" {
		t.Errorf("redirect %q sent after the head", rec.Redirect)
	}
}

func TestSendFile(t *testing.T) {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("Cache-Control", "max-age=60")
		if err := w.SendFile("/srv/files/report.pdf"); err != nil {
			return err
		}
		if err := w.Flush(); !errors.Is(err, sdk.ErrHandedOff) {
			t.Errorf("Flush after SendFile = %v; want ErrHandedOff", err)
		}
		return nil
	})
	rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
	if rec.File == nil || rec.File.Path != "/srv/files/report.pdf" || rec.File.Offset != 0 || rec.File.Length != 0 {
		t.Fatalf("File = %+v; want /srv/files/report.pdf whole", rec.File)
	}
	if rec.Code != 200 || rec.Header.Get("Content-Type") != "application/pdf" || rec.Header.Get("Cache-Control") != "max-age=60" {
		t.Errorf("head = %d %v; want 200 with Content-Type application/pdf and Cache-Control", rec.Code, rec.Header)
	}
	if rec.Messages != 1 {
		t.Errorf("messages = %d; want 1", rec.Messages)
	}

	h = sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("Content-Type", "text/x-own")
		return w.SendFileRange("/srv/a.txt", 10, 20)
	})
	rec = sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
	if rec.File == nil || rec.File.Offset != 10 || rec.File.Length != 20 || rec.Header.Get("Content-Type") != "text/x-own" {
		t.Errorf("File = %+v, Content-Type %q; want offset 10 length 20, text/x-own", rec.File, rec.Header.Get("Content-Type"))
	}
}

func TestSendFileRefused(t *testing.T) {
	for name, f := range map[string]func(w *sdk.ResponseWriter) error{
		"relative":       func(w *sdk.ResponseWriter) error { return w.SendFile("a.txt") },
		"nul":            func(w *sdk.ResponseWriter) error { return w.SendFile("/a\x00b") },
		"negative":       func(w *sdk.ResponseWriter) error { return w.SendFileRange("/a", -1, 0) },
		"after write":    func(w *sdk.ResponseWriter) error { _, _ = w.WriteString("x"); return w.SendFile("/a") },
		"after redirect": func(w *sdk.ResponseWriter) error { _ = w.InternalRedirect("/b"); return w.SendFile("/a") },
	} {
		h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
			if err := f(w); err == nil {
				t.Errorf("%s: SendFile = nil; want an error", name)
			}
			return nil
		})
		if rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil)); rec.File != nil {
			t.Errorf("%s: file %+v sent", name, rec.File)
		}
	}
	// A handler error after SendFile: no file, httpd's 500.
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_ = w.SendFile("/a")
		return errors.New("changed my mind")
	})
	if rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil)); rec.File != nil || rec.FinishStatus != 500 {
		t.Errorf("error after SendFile: file %+v, finish status %d; want none, 500", rec.File, rec.FinishStatus)
	}
}

func TestAbsoluteURL(t *testing.T) {
	for _, tc := range []struct {
		target, path, want string
	}{
		{"/x", "/a?b=1", "http://example.com/a?b=1"},
		{"http://h.test:8080/x", "/a", "http://h.test:8080/a"},
		{"https://h.test/x", "a", "https://h.test/a"},
		{"https://h.test:443/x", "/", "https://h.test/"},
		{"http://h.test:443/x", "/", "http://h.test:443/"},
		{"http://[::1]:81/x", "/", "http://[::1]:81/"},
	} {
		r := sdktest.NewRequest("GET", tc.target, nil)
		if got := r.AbsoluteURL(tc.path); got != tc.want {
			t.Errorf("%s: AbsoluteURL(%q) = %q; want %q", tc.target, tc.path, got, tc.want)
		}
	}
	r := sdktest.NewRequest("GET", "/x", nil)
	r.Hostname = ""
	r.ServerName = "canon.test"
	if got := r.AbsoluteURL("/y"); got != "http://canon.test/y" {
		t.Errorf("without Host: %q; want http://canon.test/y", got)
	}
}
