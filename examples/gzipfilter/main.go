// Command gzipfilter is an output filter plugin: it compresses response
// bodies with gzip on their way to the client, whatever produced them (a
// static file, mod_proxy, CGI, a gobridge handler), the way mod_deflate
// does, and passes everything it should not compress through untouched.
//
// It compresses a 200 response when the client accepts gzip, the body is
// not encoded already, and its content type is text/*, JSON, JavaScript,
// XML or SVG. It then sets Content-Encoding: gzip, adds Vary:
// Accept-Encoding, and marks an ETag as describing the compressed body
// ("abc" becomes "abc-gzip"), as mod_deflate does. httpd drops the
// Content-Length itself. Flushes (a handler's Flush, a slow proxied
// server) reach the client as a gzip sync flush, so streaming still works.
//
// Options:
//
//	GoBridgeOption gzip.level 1..9   compression level (default 6)
//
// Configuration:
//
//	GoBridgePlugin gzip /usr/local/libexec/gobridge/gzipfilter
//	<Location /docs/>
//	    GoBridgeOutputFilter gzip
//	    GoBridgeOption gzip.level 5
//	</Location>
package main

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gobridge/gobridge/sdk"
)

type gzipFilter struct{}

// compressible reports whether a body of content type ct is worth
// compressing.
func compressible(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/javascript", mt == "application/xml",
		mt == "image/svg+xml", strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

// acceptsGzip reports whether the Accept-Encoding values allow gzip (a
// q=0 refuses it).
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
				continue
			}
			q := strings.TrimSpace(params)
			if qv, ok := strings.CutPrefix(q, "q="); ok {
				if f, err := strconv.ParseFloat(qv, 64); err == nil && f == 0 {
					return false
				}
			}
			return true
		}
	}
	return false
}

func headerOut(f *sdk.Filter, key string) string {
	for _, p := range f.HeaderOut {
		if strings.EqualFold(p.Key, key) {
			return p.Value
		}
	}
	return ""
}

// FilterBody compresses the body or declines.
func (gzipFilter) FilterBody(f *sdk.Filter, in io.Reader, out io.Writer) error {
	if f.Kind != sdk.OutputFilter || f.Status != http.StatusOK || !acceptsGzip(f.Header) ||
		f.ContentEncoding != "" || headerOut(f, "Content-Encoding") != "" || !compressible(f.ContentType) {
		return sdk.Declined
	}
	level := gzip.DefaultCompression
	if v, err := strconv.Atoi(f.Option("gzip.level")); err == nil && v >= gzip.BestSpeed && v <= gzip.BestCompression {
		level = v
	}
	if err := f.Set(sdk.TableHeadersOut, "Content-Encoding", "gzip"); err != nil {
		return err
	}
	if err := f.Add(sdk.TableHeadersOut, "Vary", "Accept-Encoding"); err != nil {
		return err
	}
	if etag := headerOut(f, "ETag"); strings.HasSuffix(etag, `"`) {
		if err := f.Set(sdk.TableHeadersOut, "ETag", strings.TrimSuffix(etag, `"`)+`-gzip"`); err != nil {
			return err
		}
	}
	gz, err := gzip.NewWriterLevel(out, level)
	if err != nil {
		return err
	}
	f.OnFlush(gz.Flush)
	if _, err := io.Copy(gz, in); err != nil {
		return err
	}
	return gz.Close()
}

func main() {
	sdk.Serve(&sdk.ServeConfig{Filter: gzipFilter{}})
}
