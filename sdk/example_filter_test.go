package sdk_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// upper is a BodyFilter that upper-cases text, line by line.
type upper struct{}

func (upper) FilterBody(f *sdk.Filter, in io.Reader, out io.Writer) error {
	if !strings.HasPrefix(f.ContentType, "text/") {
		return sdk.Declined // anything else passes through unchanged
	}
	if err := f.Unset(sdk.TableHeadersOut, "ETag"); err != nil { // the body changes
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if _, err := fmt.Fprintln(out, strings.ToUpper(sc.Text())); err != nil {
			return err
		}
	}
	return sc.Err()
}

func ExampleFilter() {
	r := sdktest.NewRequest("GET", "/a.txt", nil)
	r.ContentType = "text/plain"
	rec := sdktest.RunFilter(nil, upper{}, sdk.OutputFilter, r, []byte("hello\nworld\n"))
	fmt.Print(rec.Output)
	fmt.Println(rec.Mutations)
	r.ContentType = "image/png"
	fmt.Println(sdktest.RunFilter(nil, upper{}, sdk.OutputFilter, r, []byte("\x89PNG")).Declined)
	// Output:
	// HELLO
	// WORLD
	// [{headers_out unset ETag }]
	// true
}

func ExampleFilter_SetContentType() {
	md := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		if err := f.SetContentType("text/html; charset=utf-8"); err != nil {
			return err
		}
		_, err := io.Copy(out, in) // a real one would render the Markdown
		return err
	})
	r := sdktest.NewRequest("GET", "/README.md", nil)
	r.ContentType = "text/markdown"
	fmt.Println(sdktest.RunFilter(nil, md, sdk.OutputFilter, r, []byte("# hi\n")).ContentType)
	// Output: text/html; charset=utf-8
}

func ExampleFilter_OnFlush() {
	// A filter that buffers must flush when httpd asks to, so a streamed
	// response (server-sent events) is not held back.
	buffered := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		bw := bufio.NewWriter(out)
		f.OnFlush(bw.Flush)
		sc := bufio.NewScanner(in) // not io.Copy(bw, in): see OnFlush
		for sc.Scan() {
			fmt.Fprintln(bw, strings.ToUpper(sc.Text()))
		}
		if err := sc.Err(); err != nil {
			return err
		}
		return bw.Flush()
	})
	r := sdktest.NewRequest("GET", "/events", nil)
	rec := sdktest.RunFilterChunks(nil, buffered, sdk.OutputFilter, r, []sdktest.FilterChunk{
		{Data: []byte("data: 1\n\n"), Flush: true},
		{Data: []byte("data: 2\n\n")},
	})
	fmt.Printf("%q\n", rec.Answers)
	// Output: ["DATA: 1\n\n" "DATA: 2\n\n"]
}

func ExampleBodyFilterFunc() {
	// An input filter sees the request body before the handler does.
	strip := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		b, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		_, err = out.Write([]byte(strings.TrimSpace(string(b))))
		return err
	})
	rec := sdktest.RunFilter(nil, strip, sdk.InputFilter, sdktest.NewRequest("POST", "/", nil), []byte("  {}\n"))
	fmt.Printf("%q\n", rec.Output)
	// Output: "{}"
}

func ExampleBodyFilterFunc_FilterBody() {
	var f sdk.BodyFilter = sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		return sdk.Declined
	})
	fmt.Println(sdktest.RunFilter(nil, f, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), nil).Declined)
	// Output: true
}

func ExampleFilterKind() {
	// Headers belong to the response: only an output filter changes them.
	check := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		err := f.Set(sdk.TableHeadersOut, "X-Filtered", "1")
		fmt.Println(f.Kind, err == nil)
		_, err2 := io.Copy(out, in)
		return err2
	})
	sdktest.RunFilter(nil, check, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), []byte("x"))
	sdktest.RunFilter(nil, check, sdk.InputFilter, sdktest.NewRequest("POST", "/", nil), []byte("x"))
	// Output:
	// output true
	// input false
}

func ExampleFilterKind_String() {
	fmt.Println(sdk.OutputFilter, sdk.InputFilter)
	// Output: output input
}

func Example_filterStarted() {
	// Once output went to httpd, the response head is on its way.
	late := sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		fmt.Println(errors.Is(f.SetNote("k", "v"), sdk.ErrFilterStarted))
		return nil
	})
	sdktest.RunFilterChunks(nil, late, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil),
		[]sdktest.FilterChunk{{Data: []byte("a")}, {Data: []byte("b")}})
	// Output: true
}
