package sdk_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"html"
	"io"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// gzipFilter compresses text bodies and passes anything else through.
var gzipFilter = sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
	if !strings.HasPrefix(f.ContentType, "text/") {
		return sdk.Declined
	}
	if err := f.Set(sdk.TableHeadersOut, "Content-Encoding", "gzip"); err != nil {
		return err
	}
	if err := f.Add(sdk.TableHeadersOut, "Vary", "Accept-Encoding"); err != nil {
		return err
	}
	gz := gzip.NewWriter(out)
	f.OnFlush(gz.Flush)
	if _, err := io.Copy(gz, in); err != nil {
		return err
	}
	return gz.Close()
})

func textRequest() *sdk.Request {
	r := sdktest.NewRequest("GET", "/doc.txt", nil)
	r.Status = 200
	r.ContentType = "text/plain"
	return r
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return plain
}

func TestFilterGzip(t *testing.T) {
	for _, size := range []int{0, 10, 256 << 10, 3<<20 + 5} {
		body := bytes.Repeat([]byte("all work and no play "), size/21+1)[:size]
		rec := sdktest.RunFilter(t, gzipFilter, sdk.OutputFilter, textRequest(), body)
		if !rec.Done || rec.Err != nil {
			t.Fatalf("size %d: done=%v err=%v; want a clean end", size, rec.Done, rec.Err)
		}
		if got := gunzip(t, rec.Output.Bytes()); !bytes.Equal(got, body) {
			t.Errorf("size %d: gunzipped output has %d bytes; want the %d sent", size, len(got), size)
		}
		if v, _ := rec.Header("Content-Encoding"); v != "gzip" {
			t.Errorf("size %d: Content-Encoding = %q; want gzip", size, v)
		}
		if v, _ := rec.Header("Vary"); v != "Accept-Encoding" {
			t.Errorf("size %d: Vary = %q; want Accept-Encoding", size, v)
		}
		if want := max(1, (size+256<<10-1)/(256<<10)); rec.ChunksSent != want {
			t.Errorf("size %d: %d chunks sent; want %d", size, rec.ChunksSent, want)
		}
	}
}

func TestFilterDeclined(t *testing.T) {
	r := textRequest()
	r.ContentType = "image/png"
	rec := sdktest.RunFilter(t, gzipFilter, sdk.OutputFilter, r, []byte("\x89PNG"))
	if !rec.Declined || rec.Output.Len() != 0 || len(rec.Mutations) != 0 {
		t.Errorf("declined=%v output=%q mutations=%v; want a bare decline", rec.Declined, rec.Output, rec.Mutations)
	}
}

func TestFilterFlush(t *testing.T) {
	chunks := []sdktest.FilterChunk{
		{Data: []byte("first part "), Flush: true},
		{Data: []byte("second part")},
	}
	rec := sdktest.RunFilterChunks(t, gzipFilter, sdk.OutputFilter, textRequest(), chunks)
	if !rec.Done {
		t.Fatalf("not done: %v", rec.Err)
	}
	// What answered the flushed chunk must decompress to its data alone.
	zr, err := gzip.NewReader(bytes.NewReader(rec.Answers[0]))
	if err != nil {
		t.Fatalf("answer to the flushed chunk is not gzip: %v", err)
	}
	got := make([]byte, len("first part "))
	if _, err := io.ReadFull(zr, got); err != nil || string(got) != "first part " {
		t.Errorf("answer to the flushed chunk decompresses to %q, %v; want %q", got, err, "first part ")
	}
	if got := gunzip(t, rec.Output.Bytes()); string(got) != "first part second part" {
		t.Errorf("output = %q", got)
	}
}

func TestFilterFlushWithoutOnFlush(t *testing.T) {
	// A filter that buffers nothing itself: what it wrote goes out with
	// the answer to the flushed chunk.
	upper := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		buf := make([]byte, 4)
		for {
			n, err := in.Read(buf)
			out.Write(bytes.ToUpper(buf[:n]))
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	rec := sdktest.RunFilterChunks(t, upper, sdk.InputFilter, sdktest.NewRequest("POST", "/", nil),
		[]sdktest.FilterChunk{{Data: []byte("abcdef"), Flush: true}, {Data: []byte("gh")}})
	if string(rec.Answers[0]) != "ABCDEF" || rec.Output.String() != "ABCDEFGH" {
		t.Errorf("answers %q, output %q; want ABCDEF first, ABCDEFGH in all", rec.Answers, rec.Output)
	}
}

func TestFilterHeaderRules(t *testing.T) {
	var errs []error
	f := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		errs = append(errs,
			f.Set(sdk.TableHeadersOut, "Bad Name", "x"),
			f.Set(sdk.TableHeadersOut, "X-Ok", "line\r\nInjected: 1"),
			f.Set(sdk.TableHeadersOut, "Content-Length", "3"),
			f.Set(sdk.TableHeadersOut, "Transfer-Encoding", "chunked"),
			f.SetContentType("not a type"),
		)
		if err := f.SetContentType("text/html; charset=utf-8"); err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		errs = append(errs, f.Set(sdk.TableHeadersOut, "X-Late", "1"))
		return nil
	})
	// Two chunks: asking for the second one starts the output.
	body := bytes.Repeat([]byte("<p>"), 100<<10)
	rec := sdktest.RunFilter(t, f, sdk.OutputFilter, textRequest(), body)
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error; want the header change refused", i)
		}
	}
	if !errors.Is(errs[len(errs)-1], sdk.ErrFilterStarted) {
		t.Errorf("late SetHeader: %v; want ErrFilterStarted", errs[len(errs)-1])
	}
	if rec.ContentType != "text/html; charset=utf-8" || len(rec.Mutations) != 0 || !bytes.Equal(rec.Output.Bytes(), body) {
		t.Errorf("content type %q, mutations %v, output of %d bytes", rec.ContentType, rec.Mutations, rec.Output.Len())
	}

	in := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		if err := f.Set(sdk.TableHeadersOut, "X-In", "1"); err == nil {
			t.Error("SetHeader in an input filter: no error")
		}
		_, err := io.Copy(out, in)
		return err
	})
	sdktest.RunFilter(t, in, sdk.InputFilter, sdktest.NewRequest("POST", "/", nil), []byte("x"))
}

func TestFilterFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    sdk.BodyFilterFunc
		log  string
	}{
		{"error before output", func(f *sdk.Filter, in io.Reader, out io.Writer) error {
			return errors.New("disk on fire")
		}, "disk on fire"},
		{"error after output", func(f *sdk.Filter, in io.Reader, out io.Writer) error {
			out.Write(bytes.Repeat([]byte("x"), 300<<10))
			return errors.New("half way")
		}, "half way"},
		{"declined after output", func(f *sdk.Filter, in io.Reader, out io.Writer) error {
			io.Copy(out, in)
			return sdk.Declined
		}, "declined after"},
		{"panic", func(f *sdk.Filter, in io.Reader, out io.Writer) error {
			panic("boom")
		}, "boom"},
	} {
		rec := sdktest.RunFilter(t, tc.f, sdk.OutputFilter, textRequest(), bytes.Repeat([]byte("y"), 600<<10))
		if rec.Done || rec.Declined || rec.Err == nil {
			t.Errorf("%s: done=%v declined=%v err=%v; want the stream to end in an error", tc.name, rec.Done, rec.Declined, rec.Err)
		}
		if !rec.Logged(tc.log) {
			t.Errorf("%s: no log record mentioning %q: %v", tc.name, tc.log, rec.Logs)
		}
	}
}

func TestFilterStopsEarly(t *testing.T) {
	head := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		_, err := io.CopyN(out, in, 10)
		return err
	})
	rec := sdktest.RunFilter(t, head, sdk.OutputFilter, textRequest(), bytes.Repeat([]byte("z"), 1<<20))
	if !rec.Done || rec.Output.Len() != 10 || rec.ChunksSent != 1 {
		t.Errorf("done=%v output %d bytes after %d chunks; want DONE after 10 bytes of the first chunk", rec.Done, rec.Output.Len(), rec.ChunksSent)
	}
}

func TestFilterSeesSnapshotAndOptions(t *testing.T) {
	var kind sdk.FilterKind
	var status int
	var opt string
	f := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		kind, status, opt = f.Kind, f.Status, f.Option("banner")
		f.Logger().Info("filtering", "uri", f.URI)
		_, err := io.Copy(out, in)
		return err
	})
	r := textRequest()
	r.Status = 404
	r.Options = sdk.Pairs{{Key: "banner", Value: "hi"}}
	rec := sdktest.RunFilter(t, f, sdk.OutputFilter, r, []byte("x"))
	if kind != sdk.OutputFilter || status != 404 || opt != "hi" || !rec.Logged("filtering") {
		t.Errorf("kind %v, status %d, option %q, logs %v", kind, status, opt, rec.Logs)
	}
}

// A header and a footer around every HTML page, whatever serves it
// (GoBridgeOutputFilter banner in httpd.conf).
func ExampleBodyFilter() {
	banner := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		if f.Kind != sdk.OutputFilter || !strings.HasPrefix(f.ContentType, "text/html") {
			return sdk.Declined
		}
		fmt.Fprintf(out, "<header>%s</header>\n", html.EscapeString(f.Option("banner")))
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		_, err := io.WriteString(out, "<footer>served through gobridge</footer>\n")
		return err
	})

	// In main: sdk.Serve(&sdk.ServeConfig{Filter: banner})
	r := sdktest.NewRequest("GET", "/", nil)
	r.ContentType = "text/html"
	r.Options = sdk.Pairs{{Key: "banner", Value: "Hello & welcome"}}
	rec := sdktest.RunFilter(nil, banner, sdk.OutputFilter, r, []byte("<p>page</p>\n"))
	fmt.Print(rec.Output)
	// Output:
	// <header>Hello &amp; welcome</header>
	// <p>page</p>
	// <footer>served through gobridge</footer>
}
