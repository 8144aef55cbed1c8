package sdktest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
)

// FilterChunk is one chunk of body as mod_gobridge sends it to a filter.
type FilterChunk struct {
	Data  []byte
	Flush bool // a flush bucket followed the data (output filters)
}

// FilterRecorder is what a filter answered.
type FilterRecorder struct {
	Declined bool // the filter passed the body through unchanged
	Done     bool // the filter ended its output normally

	Output *bytes.Buffer // the transformed body
	// Answers holds the output sent in answer to each chunk, by chunk
	// index: what httpd would pass on (and, after a flushed chunk, push to
	// the client) before sending the next chunk. Output written after the
	// last chunk's answer belongs to the last one.
	Answers    [][]byte
	ChunksSent int // chunks the filter asked for, the first included

	Mutations   []Mutation // header changes (output filters)
	ContentType string     // the new content type, "" if unchanged
	Logs        []LogRecord
	Err         error // the stream's error when the filter failed

	// Violations lists what mod_gobridge would refuse.
	Violations []string
}

// Logged reports whether some log record contains substr.
func (r *FilterRecorder) Logged(substr string) bool {
	for _, l := range r.Logs {
		if strings.Contains(l.Message, substr) {
			return true
		}
	}
	return false
}

// Header returns the value the recorded mutations leave for the response
// header key, starting from an empty table, and whether it is set.
func (r *FilterRecorder) Header(key string) (string, bool) {
	pr := &PhaseRecorder{Mutations: r.Mutations}
	return pr.Get(sdk.TableHeadersOut, key)
}

// RunFilter runs impl as a filter of kind over body, without httpd or
// gRPC, the way mod_gobridge drives it: the body in chunks of 256 KiB, the
// next chunk only once the filter asked for it. req is the request
// snapshot (for an output filter set its Status, HeaderOut and
// ContentType as a handler would; req.Body is ignored). Answers
// mod_gobridge would refuse are reported with t.Errorf; t may be nil (in
// examples), and they then panic.
func RunFilter(t testing.TB, impl sdk.BodyFilter, kind sdk.FilterKind, req *sdk.Request, body []byte) *FilterRecorder {
	if t != nil {
		t.Helper()
	}
	var chunks []FilterChunk
	for len(body) > wire.MaxChunk {
		chunks = append(chunks, FilterChunk{Data: body[:wire.MaxChunk]})
		body = body[wire.MaxChunk:]
	}
	chunks = append(chunks, FilterChunk{Data: body})
	return RunFilterChunks(t, impl, kind, req, chunks)
}

// RunFilterChunks is RunFilter with the chunks given, to test flushes and
// chunk boundaries. The last chunk carries the end of the body; an empty
// list is an empty body. Chunks larger than 256 KiB are a test error.
func RunFilterChunks(t testing.TB, impl sdk.BodyFilter, kind sdk.FilterKind, req *sdk.Request, chunks []FilterChunk) *FilterRecorder {
	if t != nil {
		t.Helper()
	}
	if len(chunks) == 0 {
		chunks = []FilterChunk{{}}
	}
	for i, c := range chunks {
		if len(c.Data) > wire.MaxChunk {
			panic(fmt.Sprintf("sdktest: chunk %d has %d bytes; mod_gobridge sends at most %d", i, len(c.Data), wire.MaxChunk))
		}
	}
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	p := &filterPipe{ctx: ctx, in: make(chan *pb.FilterRequest), out: make(chan *pb.FilterResponse), done: make(chan struct{})}
	plug := newPlugin(t, &sdk.ServeConfig{Filter: impl})
	go func() {
		p.err = plug.stream(serviceFilter, "Filter",
			&memStream[*pb.FilterRequest, *pb.FilterResponse]{ctx: ctx, in: p.in, out: p.out})
		close(p.done)
	}()
	rec := runFilter(p, kind, req, chunks)
	cancel()
	<-p.done
	for _, v := range rec.Violations {
		if t == nil {
			panic("sdktest: mod_gobridge would refuse the filter's answer: " + v)
		}
		t.Errorf("sdktest: mod_gobridge would refuse the filter's answer: %s", v)
	}
	return rec
}

// runFilter plays the module's side of a Filter stream.
func runFilter(p *filterPipe, kind sdk.FilterKind, req *sdk.Request, chunks []FilterChunk) *FilterRecorder {
	rec := &FilterRecorder{Output: new(bytes.Buffer)}
	bad := func(format string, args ...any) {
		rec.Violations = append(rec.Violations, fmt.Sprintf(format, args...))
	}
	m := &pb.FilterRequest{
		Kind:    pb.FilterKind(kind),
		Request: wire.EncodeRequest(snapshot(req)),
	}
	passed := false // output or a mark came back: headers are final
	for i, c := range chunks {
		m.Data, m.Flush, m.Eos = c.Data, c.Flush, i == len(chunks)-1
		if err := p.send(m); err != nil {
			rec.Err = err
			return rec
		}
		m = &pb.FilterRequest{}
		rec.ChunksSent++
		rec.Answers = append(rec.Answers, nil)
		for {
			a, err := p.recv()
			if err != nil {
				if err == io.EOF {
					bad("the stream ended without a DONE mark")
				}
				rec.Err = err
				return rec
			}
			for _, l := range a.GetLogs() {
				rec.Logs = append(rec.Logs, LogRecord{Level: wire.SlogLevel(l.GetLevel()), Message: string(l.GetMessage())})
			}
			if len(a.GetMutations()) > 0 || len(a.GetContentType()) > 0 {
				switch {
				case kind != sdk.OutputFilter:
					bad("header changes from an input filter")
				case passed:
					bad("header changes after the output started")
				}
				for _, mu := range a.GetMutations() {
					op := strings.ToLower(strings.TrimPrefix(mu.GetOp().String(), "OP_"))
					rec.Mutations = append(rec.Mutations, Mutation{Table: sdk.Table(mu.GetTable()), Op: op, Key: string(mu.GetKey()), Value: string(mu.GetValue())})
					if !wire.ValidName(string(mu.GetKey())) || !wire.ValidValue(string(mu.GetValue())) {
						bad("invalid header %q", mu.GetKey())
					}
				}
				if ct := string(a.GetContentType()); ct != "" {
					rec.ContentType = ct
					if !wire.ValidField(pb.FieldUpdate_FIELD_CONTENT_TYPE, ct) {
						bad("invalid content type %q", ct)
					}
				}
			}
			if len(a.GetData()) > 0 {
				rec.Output.Write(a.GetData())
				rec.Answers[i] = append(rec.Answers[i], a.GetData()...)
				passed = true
			}
			switch a.GetMark() {
			case pb.FilterMark_FILTER_MARK_UNSPECIFIED:
				continue
			case pb.FilterMark_FILTER_MARK_NEED_MORE:
				if i == len(chunks)-1 {
					bad("NEED_MORE after the last chunk")
					return rec
				}
			case pb.FilterMark_FILTER_MARK_DONE:
				rec.Done = true
				if _, err := p.recv(); err != io.EOF {
					bad("the stream did not end cleanly after DONE: %v", err)
				}
				return rec
			case pb.FilterMark_FILTER_MARK_DECLINED:
				if i > 0 || passed {
					bad("DECLINED after the first answer or after output")
				}
				rec.Declined = true
				return rec
			default:
				bad("unknown mark %d", a.GetMark())
				return rec
			}
			passed = true
			break
		}
	}
	return rec
}

// filterPipe is an in-memory Filter stream.
type filterPipe struct {
	ctx  context.Context
	in   chan *pb.FilterRequest
	out  chan *pb.FilterResponse
	done chan struct{} // closed when the plugin side returned
	err  error         // what it returned
}

func (p *filterPipe) send(m *pb.FilterRequest) error {
	select {
	case p.in <- m:
		return nil
	case <-p.done:
		return p.recvErr()
	}
}

func (p *filterPipe) recv() (*pb.FilterResponse, error) {
	select {
	case m := <-p.out:
		return m, nil
	case <-p.done:
		// What was sent before the plugin returned is still to be read.
		select {
		case m := <-p.out:
			return m, nil
		default:
		}
		return nil, p.recvErr()
	}
}

func (p *filterPipe) recvErr() error {
	if p.err != nil {
		return p.err
	}
	return io.EOF
}
