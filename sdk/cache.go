package sdk

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Validators and conditional requests across the process boundary.
//
// httpd's default handler makes an ETag from a file's inode, size and
// mtime (ap_set_etag) and Last-Modified from r->mtime (ap_update_mtime,
// ap_set_last_modified), then answers conditional requests itself
// (ap_meets_conditions). A plugin's content is not a file httpd knows, so
// the plugin makes the validators and evaluates the conditions; these
// helpers do it the way httpd would, in the plugin, without a round trip:
//
//	tag := sdk.ETag(body)
//	if code := r.MeetsConditions(tag, mtime); code != http.StatusOK {
//		w.SetETag(tag)
//		w.SetLastModified(mtime)
//		w.WriteHeader(code) // 304 Not Modified or 412 Precondition Failed
//		return nil
//	}
//	w.SetETag(tag)
//	w.SetLastModified(mtime)
//	w.Write(body)
//
// In the phases before the handler, PhaseRequest.SetETag and UpdateMtime
// set the same headers on whatever httpd serves (a file, a CGI, a proxy).

// ETag returns a strong entity tag for content: its SHA-256, shortened,
// quoted (`"…"`). Equal content gives equal tags in every process.
func ETag(content []byte) string {
	sum := sha256.Sum256(content)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:15]) + `"`
}

// WeakETag returns the weak form (`W/"…"`) of a tag made by ETag, or of
// the opaque string tag: for content that is equivalent but not
// byte-identical (e.g. before and after compression).
func WeakETag(tag string) string {
	if strings.HasPrefix(tag, `"`) {
		return "W/" + tag
	}
	return `W/"` + tag + `"`
}

// validETag: RFC 9110 entity-tag, [W/]"etagc*", etagc = %x21 / %x23-7E / obs-text.
func validETag(s string) bool {
	s = strings.TrimPrefix(s, "W/")
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// opaque strips the weak prefix for the weak comparison.
func opaque(tag string) string { return strings.TrimPrefix(strings.TrimSpace(tag), "W/") }

// errBadETag is returned by ResponseWriter.SetETag for an invalid tag.
var errBadETag = errors.New(`sdk: invalid entity tag: want "…" or W/"…"`)

// SetETag sets the ETag response header to etag, in its quoted form as
// made by ETag or WeakETag. It returns an error, and sets nothing, if etag
// is not a valid entity tag.
func (w *ResponseWriter) SetETag(etag string) error {
	if !validETag(etag) {
		return errBadETag
	}
	w.Header().Set("ETag", etag)
	return nil
}

// SetLastModified sets the Last-Modified response header from t the way
// ap_set_last_modified does: never later than the time the request
// arrived, in HTTP date format. A zero t sets nothing.
func (w *ResponseWriter) SetLastModified(t time.Time) {
	if t.IsZero() {
		return
	}
	if w.req != nil && !w.req.RequestTime.IsZero() && t.After(w.req.RequestTime) {
		t = w.req.RequestTime
	}
	w.Header().Set("Last-Modified", t.UTC().Format(http.TimeFormat))
}

// MeetsConditions evaluates the request's preconditions (If-Match,
// If-Unmodified-Since, If-None-Match, If-Modified-Since, in RFC 9110
// §13.2.2's order, as ap_meets_conditions does) against the response's
// current entity tag and last-modification time (either may be empty or
// zero when unknown). It returns http.StatusOK to go on,
// http.StatusNotModified (GET and HEAD) or http.StatusPreconditionFailed.
func (r *Request) MeetsConditions(etag string, lastModified time.Time) int {
	h := r.Header
	if h == nil {
		return http.StatusOK
	}
	lm := lastModified.Truncate(time.Second)
	if v := h.Get("If-Match"); v != "" {
		if !etagListMatch(v, etag, true) {
			return http.StatusPreconditionFailed
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" && !lm.IsZero() {
		if t, err := http.ParseTime(v); err == nil && lm.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	getOrHead := r.Method == http.MethodGet || r.Method == http.MethodHead
	if v := h.Get("If-None-Match"); v != "" {
		if etagListMatch(v, etag, false) {
			if getOrHead {
				return http.StatusNotModified
			}
			return http.StatusPreconditionFailed
		}
		return http.StatusOK
	}
	if v := h.Get("If-Modified-Since"); v != "" && getOrHead && !lm.IsZero() {
		if t, err := http.ParseTime(v); err == nil && !lm.After(t) {
			return http.StatusNotModified
		}
	}
	return http.StatusOK
}

// etagListMatch compares etag with a header's list ("*" or tags);
// strong comparison refuses weak tags on either side.
func etagListMatch(list, etag string, strong bool) bool {
	if strings.TrimSpace(list) == "*" {
		return etag != ""
	}
	if etag == "" || (strong && strings.HasPrefix(etag, "W/")) {
		return false
	}
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if strong && strings.HasPrefix(t, "W/") {
			continue
		}
		if opaque(t) == opaque(etag) {
			return true
		}
	}
	return false
}
