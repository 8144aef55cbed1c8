package wire

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fillAll sets every field of m (recursively) to a value of its own, so a
// field the raw decoder does not know shows as a difference.
func fillAll(m protoreflect.Message, seed *int) {
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		*seed++
		n := *seed
		one := func() protoreflect.Value {
			switch fd.Kind() {
			case protoreflect.BytesKind:
				return protoreflect.ValueOfBytes([]byte(fmt.Sprintf("%s-%d", fd.Name(), n)))
			case protoreflect.StringKind:
				return protoreflect.ValueOfString(fmt.Sprintf("%s-%d", fd.Name(), n))
			case protoreflect.BoolKind:
				return protoreflect.ValueOfBool(true)
			case protoreflect.Int32Kind:
				return protoreflect.ValueOfInt32(int32(-n * 7))
			case protoreflect.Int64Kind:
				return protoreflect.ValueOfInt64(int64(n) * 1_000_003)
			case protoreflect.Uint32Kind:
				return protoreflect.ValueOfUint32(uint32(n * 11))
			case protoreflect.Uint64Kind:
				return protoreflect.ValueOfUint64(uint64(n) << 40)
			case protoreflect.EnumKind:
				return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n % 5))
			}
			panic(fmt.Sprintf("fillAll: add kind %v (field %s)", fd.Kind(), fd.FullName()))
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				if fd.Kind() == protoreflect.MessageKind {
					e := l.NewElement()
					fillAll(e.Message(), seed)
					l.Append(e)
				} else {
					l.Append(one())
					*seed++
					n = *seed
				}
			}
		case fd.IsMap():
			panic("fillAll: no maps expected")
		case fd.Kind() == protoreflect.MessageKind:
			fillAll(m.Mutable(fd).Message(), seed)
		default:
			m.Set(fd, one())
		}
	}
}

func refRequest(b []byte) (Request, error) {
	var m pb.Request
	if err := proto.Unmarshal(b, &m); err != nil {
		return Request{}, err
	}
	return DecodeRequest(&m), nil
}

// checkSame fails t when the raw decoders and proto.Unmarshal followed by
// DecodeRequest disagree about b, as a Request, a HandleRequest and a
// PhaseRequest.
func checkSame(t testing.TB, b []byte) {
	t.Helper()
	want, werr := refRequest(b)
	got, gerr := DecodeRawRequest(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Request %x: proto.Unmarshal error %v, raw error %v", b, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Request %x:\nraw   %+v\nproto %+v", b, got, want)
	}

	var hm pb.HandleRequest
	werr = proto.Unmarshal(b, &hm)
	hf, gerr := DecodeHandleFirst(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("HandleRequest %x: proto.Unmarshal error %v, raw error %v", b, werr, gerr)
	}
	if werr == nil {
		if hf.HasRequest != (hm.GetRequest() != nil) || hf.BodyEOF != hm.GetBodyEof() || !bytes.Equal(hf.Body, hm.GetBody()) {
			t.Fatalf("HandleRequest %x: raw %v %v %q, proto %v %v %q", b,
				hf.HasRequest, hf.BodyEOF, hf.Body, hm.GetRequest() != nil, hm.GetBodyEof(), hm.GetBody())
		}
		if w := DecodeRequest(hm.GetRequest()); !reflect.DeepEqual(hf.Request, w) {
			t.Fatalf("HandleRequest %x:\nraw   %+v\nproto %+v", b, hf.Request, w)
		}
	}

	checkSplit(t, b, &pb.CheckPasswordRequest{}, &pb.CheckPasswordRequest{})
	checkSplit(t, b, &pb.CheckAuthorizationRequest{}, &pb.CheckAuthorizationRequest{})

	var pm pb.PhaseRequest
	werr = proto.Unmarshal(b, &pm)
	ph, pr, gerr := DecodePhaseRequest(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("PhaseRequest %x: proto.Unmarshal error %v, raw error %v", b, werr, gerr)
	}
	if werr == nil {
		if ph != pm.GetPhase() {
			t.Fatalf("PhaseRequest %x: phase %v, proto %v", b, ph, pm.GetPhase())
		}
		if w := DecodeRequest(pm.GetRequest()); !reflect.DeepEqual(pr, w) {
			t.Fatalf("PhaseRequest %x:\nraw   %+v\nproto %+v", b, pr, w)
		}
	}
}

// splitMessage is an auth call's request: field 1 is the snapshot.
type splitMessage interface {
	proto.Message
	GetRequest() *pb.Request
}

// checkSplit compares DecodeSplit with proto.Unmarshal for b as a
// message of full's type (rest is another, empty, of the same type).
func checkSplit(t testing.TB, b []byte, full, rest splitMessage) {
	t.Helper()
	werr := proto.Unmarshal(b, full)
	r, present, gerr := DecodeSplit(b, 1, rest)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%T %x: proto.Unmarshal error %v, split error %v", full, b, werr, gerr)
	}
	if werr != nil {
		return
	}
	if present != (full.GetRequest() != nil) {
		t.Fatalf("%T %x: request present %v, proto %v", full, b, present, full.GetRequest() != nil)
	}
	if w := DecodeRequest(full.GetRequest()); !reflect.DeepEqual(r, w) {
		t.Fatalf("%T %x:\nsplit %+v\nproto %+v", full, b, r, w)
	}
	full.ProtoReflect().Clear(full.ProtoReflect().Descriptor().Fields().ByNumber(1))
	if !proto.Equal(full, rest) {
		t.Fatalf("%T %x: other fields %v, proto %v", full, b, rest, full)
	}
}

func fullRequest() *pb.Request {
	m := &pb.Request{}
	seed := 0
	fillAll(m.ProtoReflect(), &seed)
	return m
}

func partialRequest() *pb.Request {
	pair := func(k, v string) *pb.Pair { return &pb.Pair{Key: []byte(k), Value: []byte(v)} }
	return &pb.Request{
		Method: []byte("GET"), Protocol: []byte("HTTP/1.1"), Uri: []byte("/gb"),
		HeadersIn:     []*pb.Pair{pair("Host", "127.0.0.1:8080"), pair("Accept", ""), pair("", "")},
		RequestTimeUs: 1764000000000000, ContentLength: -1,
		Connection: &pb.Connection{RemoteIp: []byte("127.0.0.1"), RemotePort: 40000, Id: 7,
			Tls: &pb.TLS{}},
		Server: &pb.Server{Aliases: [][]byte{[]byte("a"), {}}},
		Status: -3,
	}
}

// unknowns appends a field of every wire type with numbers no message
// here uses.
func unknowns(b []byte) []byte {
	b = protowire.AppendTag(b, 900, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<63)
	b = protowire.AppendTag(b, 901, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 902, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 903, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("unknown"))
	b = protowire.AppendTag(b, 904, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	b = protowire.AppendTag(b, 904, protowire.EndGroupType)
	return b
}

func marshal(t testing.TB, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawCases are the table's inputs, also the fuzz target's seeds.
func rawCases(t testing.TB) map[string][]byte {
	full := marshal(t, fullRequest())
	partial := marshal(t, partialRequest())
	cases := map[string][]byte{
		"empty":   nil,
		"full":    full,
		"partial": partial,
		"bench-like": marshal(t, &pb.Request{Method: []byte("GET"), Uri: []byte("/gb"),
			Connection: &pb.Connection{LocalPort: 8080}, Server: &pb.Server{Port: 8080}}),
		"unknown fields": unknowns(append([]byte(nil), partial...)),
		// Repeated occurrences: scalars and bytes take the last, messages
		// merge, lists append.
		"twice":      append(append([]byte(nil), full...), partial...),
		"empty conn": protowire.AppendBytes(protowire.AppendTag(nil, 22, protowire.BytesType), nil),
		"empty tls": protowire.AppendBytes(protowire.AppendTag(nil, 22, protowire.BytesType),
			protowire.AppendBytes(protowire.AppendTag(nil, 10, protowire.BytesType), nil)),
		// A known field with another wire type is an unknown field.
		"wrong types": func() []byte {
			b := protowire.AppendTag(nil, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, 5)
			b = protowire.AppendTag(b, 13, protowire.BytesType)
			b = protowire.AppendBytes(b, []byte("x"))
			b = protowire.AppendTag(b, 22, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, 1)
			return protowire.AppendTag(append(b, partial...), 10, protowire.Fixed64Type)
		}(),
		"truncated":         full[:len(full)/2],
		"field zero":        {0x00, 0x01},
		"end group":         protowire.AppendTag(nil, 5, protowire.EndGroupType),
		"open group":        protowire.AppendTag(nil, 5, protowire.StartGroupType),
		"wire type 6":       protowire.AppendTag(nil, 5, 6),
		"huge field number": protowire.AppendVarint(protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.VarintType), 1),
		"overlong length":   {0x0a, 0x05, 'G'},
		"varint overflow":   {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		"bad pair":          {0x52, 0x02, 0x0a, 0x05},
		"bad tls":           {0xb2, 0x01, 0x03, 0x52, 0x01, 0x0a},
	}
	// The same snapshots inside the messages that carry them.
	for name, req := range map[string]*pb.Request{"full": fullRequest(), "partial": partialRequest()} {
		cases["handle "+name] = marshal(t, &pb.HandleRequest{Request: req, Body: []byte("body"), BodyEof: true})
		cases["phase "+name] = marshal(t, &pb.PhaseRequest{Phase: pb.Phase_PHASE_AUTHZ, Request: req})
		cases["handle "+name+" with sub-request"] = marshal(t, &pb.HandleRequest{Request: req,
			SubRequest: &pb.SubRequestResult{Id: 3, HeadersOut: []*pb.Pair{{Key: []byte("k")}}}})
	}
	// Auth calls: the request first (as the module sends it), last, in the
	// middle and twice.
	cp := marshal(t, &pb.CheckPasswordRequest{Request: partialRequest(), User: []byte("u"), Password: []byte("p"), Provider: []byte("gobridge")})
	cases["password"] = cp
	rest := marshal(t, &pb.CheckAuthorizationRequest{User: []byte("u"), Args: [][]byte{[]byte("a"), {}}, RequireLine: []byte("a \"\"")})
	req := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), marshal(t, fullRequest()))
	cases["authz request last"] = append(append([]byte(nil), rest...), req...)
	cases["authz request middle"] = append(append(append([]byte(nil), rest[:3]...), req...), rest[3:]...)
	cases["authz request twice"] = append(append(append([]byte(nil), req...), rest...), req...)
	cases["handle no request"] = marshal(t, &pb.HandleRequest{Body: []byte("x")})
	cases["handle empty request"] = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), nil)
	cases["handle twice"] = append(append([]byte(nil), cases["handle full"]...), cases["handle partial"]...)
	cases["handle bad sub-request"] = protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), []byte{0x08})
	cases["phase negative"] = protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(1<<64-2))
	return cases
}

func TestDecodeRawMatchesProto(t *testing.T) {
	for name, b := range rawCases(t) {
		t.Run(name, func(t *testing.T) { checkSame(t, b) })
	}
}

// A field added to the .proto and to DecodeRequest but not to the raw
// decoder fails here: fillAll sets every field.
func TestDecodeRawFullSnapshot(t *testing.T) {
	b := marshal(t, fullRequest())
	want, err := refRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRawRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("raw   %+v\nproto %+v", got, want)
	}
	if want.TLS == nil || len(want.Defines) != 2 || len(want.ConnNotes) != 2 || want.RemoteHost == "" {
		t.Fatalf("fillAll left fields empty: %+v", want)
	}
}

// The snapshot costs one string, one table of pairs, one of strings and
// the TLS facts.
func TestDecodeRawAllocs(t *testing.T) {
	b := marshal(t, partialRequest())
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeRawRequest(b) }); n > 4 {
		t.Fatalf("%v allocations, want at most 4", n)
	}
}

func FuzzDecodeRaw(f *testing.F) {
	for _, b := range rawCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSame(t, b) })
}

func BenchmarkDecodeRequest(b *testing.B) {
	enc := marshal(b, partialRequest())
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = refRequest(enc)
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = DecodeRawRequest(enc)
		}
	})
}
