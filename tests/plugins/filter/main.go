// Command filter is the end-to-end test plugin of GoBridgeOutputFilter and
// GoBridgeInputFilter (tests/filter_test.go). As a filter it does what
// `GoBridgeOption mode.<plugin> X` (or `GoBridgeOption mode X`) says:
//
//	gzip      compress text/* bodies (Content-Encoding, Vary); decline others
//	upper     upper-case the body
//	tag       wrap the body in "[<plugin>:" and "]"
//	copy      pass the body on unchanged, through the plugin
//	decline   decline
//	head10    only the first 10 bytes of the body
//	error     fail before writing anything
//	crash     exit the process before writing anything
//	crashlate write 300 KiB, then exit the process once the test releases
//	          the gate named by GoBridgeOption gate (or at once without one)
//	slow      answer nothing until the call's context ends (GoBridgeTimeout)
//	garbage   send a header with CR LF in it
//	latedecl  send data, then a DECLINED mark
//
// As a content handler it serves /…/stream?gate=URL (two parts with a
// flush between; the second is written once the test releases its gate,
// tests/gate), /…/big?n=BYTES (a text body of that size, streamed) and
// /…/echo (the request body as received).
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/tests/gate"
)

func main() {
	sdk.Serve(&sdk.ServeConfig{Handler: sdk.HandlerFunc(handle), Filter: sdk.BodyFilterFunc(filter)})
}

func filter(f *sdk.Filter, in io.Reader, out io.Writer) error {
	mode := f.Option("mode." + f.Plugin)
	if mode == "" {
		mode = f.Option("mode")
	}
	switch mode {
	case "gzip":
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
	case "upper":
		buf := make([]byte, 32<<10)
		for {
			n, err := in.Read(buf)
			if _, werr := out.Write(bytes.ToUpper(buf[:n])); werr != nil {
				return werr
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	case "tag":
		io.WriteString(out, "["+f.Plugin+":")
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		_, err := io.WriteString(out, "]")
		return err
	case "copy":
		_, err := io.Copy(out, in)
		return err
	case "decline":
		return sdk.Declined
	case "head10":
		_, err := io.CopyN(out, in, 10)
		return err
	case "error":
		return errors.New("filter failed on purpose")
	case "crash":
		os.Exit(3)
	case "crashlate":
		if _, err := out.Write(bytes.Repeat([]byte("partial "), 300<<10/8)); err != nil {
			return err
		}
		// Exit once the test has seen the chunk reach the client (grpc-go
		// writes it out on its own time), so the crash comes mid-body.
		if u := f.Option("gate"); u != "" {
			if err := gate.Wait(f.Context(), u); err != nil {
				return err
			}
		}
		os.Exit(3)
	case "slow":
		<-f.Context().Done()
		return f.Context().Err()
	case "garbage":
		return wire.FilterHooks.SendRaw(f, &pb.FilterResponse{Mutations: []*pb.Mutation{{
			Table: pb.Mutation_TABLE_HEADERS_OUT, Op: pb.Mutation_OP_SET,
			Key: []byte("X-Bad"), Value: []byte("a\r\nInjected: 1"),
		}}, Mark: pb.FilterMark_FILTER_MARK_NEED_MORE})
	case "latedecl":
		if err := wire.FilterHooks.SendRaw(f, &pb.FilterResponse{Data: []byte("must not be followed")}); err != nil {
			return err
		}
		return wire.FilterHooks.SendRaw(f, &pb.FilterResponse{Mark: pb.FilterMark_FILTER_MARK_DECLINED})
	}
	return errors.New("no such mode: " + mode)
}

func handle(w *sdk.ResponseWriter, r *sdk.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch r.URI[strings.LastIndex(r.URI, "/")+1:] {
	case "stream":
		io.WriteString(w, "part one;")
		if err := w.Flush(); err != nil {
			return err
		}
		q, _ := url.ParseQuery(r.Args)
		if err := gate.Wait(r.Context(), q.Get("gate")); err != nil {
			return err
		}
		_, err := io.WriteString(w, "part two")
		return err
	case "big":
		n, _ := strconv.Atoi(r.Args[len("n="):])
		line := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
		for n > 0 {
			k := min(n, len(line))
			if _, err := w.Write(line[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	case "echo":
		_, err := io.Copy(w, r.Body)
		return err
	}
	return sdk.HTTPError(404)
}
