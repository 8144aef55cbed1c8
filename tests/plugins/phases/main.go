// Command phases is the end-to-end test plugin for the non-body phases. It
// implements every phase interface and follows a small script per call,
// taken from the request header "X-Gb-<plugin>-<phase>" or, if absent, the
// GoBridgeOption "<plugin>.<phase>" (phase names as sdk.Phase.String,
// e.g. "fixups"). Without either it declines.
//
// A script is actions separated by ';', run in order:
//
//	note=k:v env=k:v hout=k:v herr=k:v hin=k:v   set a table entry
//	cnote=k:v            set a connection note (c->notes)
//	cnotecount=k         set connection note k to its value + 1 (from 0)
//	allow=GET,POST       SetAllowedMethods
//	mtime=UNIX           UpdateMtime (seconds since the epoch)
//	etag=TAG             SetETag(`"TAG"`)
//	filename=/p uri=/p ctype=t/s handler=h encoding=e lang=en
//	gbhandler=NAME       SetGoBridgeHandler: plugin NAME serves the content
//	redirect=/u          internal redirect (not from a redirected request)
//	reply=N:CTYPE:BODY   Reply(N, CTYPE, BODY) and end the script with its result
//	oflt=NAME iflt=NAME  AddOutputFilter / AddInputFilter (httpd's filter NAME)
//	gboflt=P gbiflt=P    AddGoBridgeOutputFilter / AddGoBridgeInputFilter (plugin P)
//	chain                append the plugin name to note "chain" and echo it
//	                     in the X-Chain response header (err_headers_out)
//	userhdr=H            SetUser from request header H, or 401 without it
//	authtype             add "<phase>=[<r.AuthType>]" to the X-Auth-Type
//	                     response header (err_headers_out)
//	requser=U            403 unless r.User is U
//	gate=URL             wait at the test's gate URL (tests/gate) until it is
//	                     released or the call's context ends (then fail)
//	appendfile=PATH      append "<uri> <status> <user>\n" to PATH
//	ok declined done status=N error garbage badheader   the result (last wins;
//	                     default ok once a script ran)
//
// Started with the argument -exit it exits at once (a plugin that never
// comes up).
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/tests/gate"
)

type plugin struct{}

func (plugin) PostReadRequest(r *sdk.PhaseRequest) error { return run(r) }
func (plugin) TranslateName(r *sdk.PhaseRequest) error   { return run(r) }
func (plugin) MapToStorage(r *sdk.PhaseRequest) error    { return run(r) }
func (plugin) ParseHeader(r *sdk.PhaseRequest) error     { return run(r) }
func (plugin) CheckAccess(r *sdk.PhaseRequest) error     { return run(r) }
func (plugin) Authenticate(r *sdk.PhaseRequest) error    { return run(r) }
func (plugin) Authorize(r *sdk.PhaseRequest) error       { return run(r) }
func (plugin) CheckType(r *sdk.PhaseRequest) error       { return run(r) }
func (plugin) Fixup(r *sdk.PhaseRequest) error           { return run(r) }
func (plugin) LogTransaction(r *sdk.PhaseRequest) error  { return run(r) }

func script(r *sdk.PhaseRequest) string {
	if v := r.Header.Get("X-Gb-" + r.Plugin + "-" + r.Phase.String()); v != "" {
		return v
	}
	return r.Option(r.Plugin + "." + r.Phase.String())
}

func note(r *sdk.PhaseRequest, k string) string {
	for i := len(r.Notes) - 1; i >= 0; i-- {
		if r.Notes[i].Key == k {
			return r.Notes[i].Value
		}
	}
	return ""
}

func run(r *sdk.PhaseRequest) error {
	s := script(r)
	if s == "" {
		return sdk.Declined
	}
	var result error
	// A change the sdk refuses fails the phase (500), as httpd would.
	var bad error
	keep := func(err error) {
		if bad == nil {
			bad = err
		}
	}
	for _, act := range strings.Split(s, ";") {
		verb, arg, _ := strings.Cut(strings.TrimSpace(act), "=")
		k, v, _ := strings.Cut(arg, ":")
		switch verb {
		case "note":
			keep(r.Set(sdk.TableNotes, k, v))
		case "env":
			keep(r.Set(sdk.TableSubprocessEnv, k, v))
		case "hout":
			keep(r.Add(sdk.TableHeadersOut, k, v))
		case "herr":
			keep(r.Add(sdk.TableErrHeadersOut, k, v))
		case "hin":
			keep(r.Set(sdk.TableHeadersIn, k, v))
		case "cnote":
			keep(r.Set(sdk.TableConnNotes, k, v))
		case "cnotecount":
			n := 0
			for _, p := range r.ConnNotes {
				if p.Key == arg {
					n, _ = strconv.Atoi(p.Value)
				}
			}
			keep(r.Set(sdk.TableConnNotes, arg, strconv.Itoa(n+1)))
		case "allow":
			keep(r.SetAllowedMethods(strings.Split(arg, ",")...))
		case "mtime":
			sec, _ := strconv.ParseInt(arg, 10, 64)
			r.UpdateMtime(time.Unix(sec, 0))
		case "etag":
			keep(r.SetETag(`"` + arg + `"`))
		case "filename":
			keep(r.SetFilename(arg))
		case "uri":
			keep(r.SetURI(arg))
		case "ctype":
			keep(r.SetContentType(arg))
		case "handler":
			keep(r.SetHandler(arg))
		case "gbhandler":
			keep(r.SetGoBridgeHandler(arg))
		case "redirect":
			if !r.IsInternalRedirect { // the new request has the same headers
				keep(r.InternalRedirect(arg))
			}
		case "reply":
			parts := strings.SplitN(arg, ":", 3)
			for len(parts) < 3 {
				parts = append(parts, "")
			}
			n, _ := strconv.Atoi(parts[0])
			return r.Reply(n, parts[1], []byte(parts[2]))
		case "oflt":
			if err := r.AddOutputFilter(arg); err != nil {
				return err
			}
		case "iflt":
			if err := r.AddInputFilter(arg); err != nil {
				return err
			}
		case "gboflt":
			if err := r.AddGoBridgeOutputFilter(arg); err != nil {
				return err
			}
		case "gbiflt":
			if err := r.AddGoBridgeInputFilter(arg); err != nil {
				return err
			}
		case "encoding":
			keep(r.SetContentEncoding(arg))
		case "lang":
			keep(r.SetContentLanguages(strings.Split(arg, ",")...))
		case "chain":
			c := note(r, "chain") + r.Plugin + "/" + r.Phase.String() + ","
			keep(r.Set(sdk.TableNotes, "chain", c))
			keep(r.Set(sdk.TableErrHeadersOut, "X-Chain", c))
		case "userhdr":
			u := r.Header.Get(arg)
			if u == "" {
				keep(r.Set(sdk.TableErrHeadersOut, "WWW-Authenticate", `Bearer realm="test"`))
				return sdk.HTTPError(401)
			}
			keep(r.SetUser(u))
			keep(r.SetAuthType("Bearer"))
		case "authtype":
			keep(r.Add(sdk.TableErrHeadersOut, "X-Auth-Type", r.Phase.String()+"=["+r.AuthType+"]"))
		case "requser":
			if r.User != arg {
				return sdk.HTTPError(403)
			}
		case "gate":
			if err := gate.Wait(r.Context(), arg); err != nil {
				return err
			}
		case "appendfile":
			f, err := os.OpenFile(arg, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			fmt.Fprintf(f, "%s %d %s chain=%s\n", r.URI, r.Status, r.User, note(r, "chain"))
			f.Close()
		case "ok":
			result = nil
		case "declined":
			result = sdk.Declined
		case "done":
			result = sdk.Done
		case "status":
			n, _ := strconv.Atoi(arg)
			result = sdk.HTTPError(n)
		case "error":
			result = errors.New("scripted failure")
		case "garbage":
			return &wire.RawPhaseResponse{Resp: &pb.PhaseResponse{Result: pb.Result(99)}}
		case "badheader":
			return &wire.RawPhaseResponse{Resp: &pb.PhaseResponse{
				Result: pb.Result_RESULT_OK,
				Mutations: []*pb.Mutation{{Table: pb.Mutation_TABLE_HEADERS_OUT, Op: pb.Mutation_OP_SET,
					Key: []byte("X-Bad"), Value: []byte("a\r\nInjected: 1")}},
			}}
		case "badnote":
			// The same bad notes authstub sends as a provider
			// (TestOneMutationRule); arg is "notekey" or "notevalue".
			m := &pb.Mutation{Table: pb.Mutation_TABLE_NOTES, Op: pb.Mutation_OP_SET, Key: []byte("k"), Value: []byte("a\x01b")}
			if arg == "notekey" {
				m.Key, m.Value = []byte("bad key"), []byte("v")
			}
			return &wire.RawPhaseResponse{Resp: &pb.PhaseResponse{Result: pb.Result_RESULT_OK, Mutations: []*pb.Mutation{m}}}
		case "":
		default:
			return fmt.Errorf("unknown script action %q", verb)
		}
	}
	if bad != nil {
		return bad
	}
	return result
}

func main() {
	for _, a := range os.Args[1:] {
		if a == "-exit" {
			os.Exit(1)
		}
	}
	sdk.Serve(&sdk.ServeConfig{Phases: plugin{}})
}
