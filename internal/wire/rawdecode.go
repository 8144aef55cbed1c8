package wire

import (
	"errors"
	"time"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// Decoding a call's message straight from its bytes, for the lean server's
// path (sdk/transport.go). Written by hand because protobuf's generated
// code allocates every bytes field, every Pair and every sub-message of the
// ~45-field snapshot on its own (about 20 allocations per call, most of the
// plugin's garbage), and DecodeRequest then copies all of that text once
// more. Here the snapshot's bytes are copied once into a string that every
// text field is cut from, and the tables and lists share one allocation.
//
// The result is exactly DecodeRequest(m) for the m that proto.Unmarshal
// gives for the same bytes, errors included (rawdecode_test.go checks it on
// tables and by fuzzing): proto3 rules (the last of a repeated scalar or
// bytes field wins, a repeated sub-message merges, a known field with
// another wire type is an unknown field) and unknown fields skipped after
// checking they are well formed. A field added to the .proto must be added
// here too; TestDecodeRawFullSnapshot fails until it is.

// errMalformed is the one error of the raw decoders: the bytes are not a
// valid encoding (proto.Unmarshal would fail on them too).
var errMalformed = errors.New("wire: malformed protobuf message")

// HandleFirst is the first message of a Handle stream, decoded.
type HandleFirst struct {
	Request    Request
	HasRequest bool   // the request field was present (it must be)
	Body       []byte // aliases the message's bytes
	BodyEOF    bool
}

// DecodeHandleFirst decodes an encoded gobridge.v1.HandleRequest. Body
// aliases b, which the caller must not change afterwards.
func DecodeHandleFirst(b []byte) (HandleFirst, error) {
	var out HandleFirst
	var reqs [][]byte // the request field's occurrences, merged below
	var sub *pb.SubRequestResult
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return out, errMalformed
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return out, errMalformed
			}
			out.HasRequest = true
			reqs = append(reqs, v)
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return out, errMalformed
			}
			out.Body = v
			b = b[n:]
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return out, errMalformed
			}
			out.BodyEOF = v != 0
			b = b[n:]
		case num == 4 && typ == protowire.BytesType:
			// Never on a first message; checked only so that bytes
			// proto.Unmarshal refuses are refused here too.
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return out, errMalformed
			}
			if sub == nil {
				sub = &pb.SubRequestResult{}
			}
			if (proto.UnmarshalOptions{Merge: true}).Unmarshal(v, sub) != nil {
				return out, errMalformed
			}
			b = b[n:]
		default:
			if n = skipField(num, typ, b); n < 0 {
				return out, errMalformed
			}
			b = b[n:]
		}
	}
	if len(out.Body) == 0 {
		out.Body = nil
	}
	var err error
	out.Request, err = decodeRequestParts(reqs)
	return out, err
}

// DecodePhaseRequest decodes an encoded gobridge.v1.PhaseRequest.
func DecodePhaseRequest(b []byte) (pb.Phase, Request, error) {
	var phase pb.Phase
	var reqs [][]byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return 0, Request{}, errMalformed
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, Request{}, errMalformed
			}
			phase = pb.Phase(int32(v))
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, Request{}, errMalformed
			}
			reqs = append(reqs, v)
			b = b[n:]
		default:
			if n = skipField(num, typ, b); n < 0 {
				return 0, Request{}, errMalformed
			}
			b = b[n:]
		}
	}
	r, err := decodeRequestParts(reqs)
	return phase, r, err
}

// DecodeRawRequest decodes an encoded gobridge.v1.Request: what
// DecodeRequest gives for the message proto.Unmarshal makes of b.
func DecodeRawRequest(b []byte) (Request, error) {
	return decodeRequestParts([][]byte{b})
}

// decodeRequestParts decodes the occurrences of a Request field, which
// protobuf merges: the same as decoding them concatenated, once each is
// known to be valid.
func decodeRequestParts(parts [][]byte) (Request, error) {
	switch len(parts) {
	case 0:
		return Request{}, nil
	case 1:
		return decodeRequest(string(parts[0]))
	}
	// Each occurrence must be valid on its own (the end of one does not
	// complete a field cut short in another), as protobuf decodes them.
	n := 0
	for _, p := range parts {
		d := reqDecoder{s: unsafe.String(unsafe.SliceData(p), len(p))}
		if !d.request(0, len(p)) {
			return Request{}, errMalformed
		}
		n += len(p)
	}
	all := make([]byte, 0, n)
	for _, p := range parts {
		all = append(all, p...)
	}
	return decodeRequest(unsafe.String(unsafe.SliceData(all), len(all)))
}

// The lists of a Request, counted by the first pass so that the second
// fills slices of exactly their size, cut from one allocation.
const (
	lHeaders = iota
	lOptions
	lNotes
	lEnv
	lHeadersOut
	lErrHeadersOut
	lConnNotes
	lServerOptions
	nPairLists
)

const (
	lLanguages = iota
	lAllowed
	lAliases
	lDefines
	nStringLists
)

// reqDecoder walks one encoded Request twice: to check it and count its
// lists (fill false), then to fill r (fill true). s is the snapshot's only
// copy; every string of r is a substring of it.
type reqDecoder struct {
	s     string
	fill  bool
	r     Request // by value: a pointer would make escape analysis move it to the heap
	pairs [nPairLists]int
	strs  [nStringLists]int
}

func decodeRequest(s string) (Request, error) {
	d := reqDecoder{s: s}
	if !d.request(0, len(s)) {
		return Request{}, errMalformed
	}
	r := &d.r
	np, ns := 0, 0
	for _, n := range d.pairs {
		np += n
	}
	for _, n := range d.strs {
		ns += n
	}
	var pairs []Pair
	var strs []string
	if np > 0 {
		pairs = make([]Pair, np)
	}
	if ns > 0 {
		strs = make([]string, ns)
	}
	// Each list gets an empty slice with room for exactly its items (nil
	// when it has none, as DecodeRequest leaves it), filled by append.
	cut := func(list int) []Pair {
		n := d.pairs[list]
		if n == 0 {
			return nil
		}
		p := pairs[:0:n]
		pairs = pairs[n:]
		return p
	}
	r.Headers, r.Options, r.Notes = cut(lHeaders), cut(lOptions), cut(lNotes)
	r.SubprocessEnv, r.HeadersOut = cut(lEnv), cut(lHeadersOut)
	r.ErrHeadersOut, r.ConnNotes = cut(lErrHeadersOut), cut(lConnNotes)
	r.ServerOptions = cut(lServerOptions)
	cutS := func(list int) []string {
		n := d.strs[list]
		if n == 0 {
			return nil
		}
		s := strs[:0:n]
		strs = strs[n:]
		return s
	}
	r.ContentLanguages, r.AllowedMethods = cutS(lLanguages), cutS(lAllowed)
	r.ServerAliases, r.Defines = cutS(lAliases), cutS(lDefines)
	d.fill = true
	d.request(0, len(s))
	return d.r, nil
}

// field reads the tag at s[i:end] and, for a varint or bytes field, its
// value: v for a varint, s[vs:ve] for bytes. next is where the following
// field starts; ok is false for malformed bytes. Other wire types are
// checked and skipped (next set, known false).
func (d *reqDecoder) field(i, end int) (num protowire.Number, typ protowire.Type, v uint64, vs, ve, next int, ok bool) {
	s := d.s[:end]
	// One- and two-byte tags and lengths (nearly all of a snapshot's) are
	// read here; protobuf's own decoder has the same shortcut.
	var tag uint64
	switch {
	case i < len(s) && s[i] < 0x80:
		tag = uint64(s[i])
		i++
	case i+1 < len(s) && s[i+1] < 0x80:
		tag = uint64(s[i]&0x7f) | uint64(s[i+1])<<7
		i += 2
	default:
		var n int
		if tag, n = protowire.ConsumeVarint(unsafe.Slice(unsafe.StringData(s[i:]), len(s)-i)); n < 0 {
			return 0, 0, 0, 0, 0, 0, false
		}
		i += n
	}
	if t := tag >> 3; t < uint64(protowire.MinValidNumber) || t > uint64(protowire.MaxValidNumber) {
		return 0, 0, 0, 0, 0, 0, false
	}
	num, typ = protowire.Number(tag>>3), protowire.Type(tag&7)
	if typ == protowire.BytesType && i < len(s) && s[i] < 0x80 {
		l := int(s[i])
		i++
		if l > len(s)-i {
			return 0, 0, 0, 0, 0, 0, false
		}
		return num, typ, 0, i, i + l, i + l, true
	}
	b := unsafe.Slice(unsafe.StringData(s[i:]), len(s)-i)
	switch typ {
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, 0, 0, 0, 0, 0, false
		}
		return num, typ, v, 0, 0, i + n, true
	case protowire.BytesType:
		l, n := protowire.ConsumeVarint(b)
		if n < 0 || l > uint64(len(b)-n) {
			return 0, 0, 0, 0, 0, 0, false
		}
		vs = i + n
		return num, typ, 0, vs, vs + int(l), vs + int(l), true
	}
	n := skipField(num, typ, b)
	if n < 0 {
		return 0, 0, 0, 0, 0, 0, false
	}
	return num, typ, 0, 0, 0, i + n, true
}

// consumeTag is protowire.ConsumeTag refusing, as protobuf's decoder
// does, field numbers above protowire.MaxValidNumber.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}

// skipField checks and skips an unknown field's value, as protobuf does.
func skipField(num protowire.Number, typ protowire.Type, b []byte) int {
	if typ == protowire.EndGroupType {
		return -1 // an end of group nobody started
	}
	return protowire.ConsumeFieldValue(num, typ, b)
}

func (d *reqDecoder) str(dst *string, vs, ve int) {
	if d.fill {
		*dst = d.s[vs:ve]
	}
}

func (d *reqDecoder) pair(dst *[]Pair, list, vs, ve int) bool {
	if !d.fill {
		d.pairs[list]++
		return d.pairFields(nil, vs, ve)
	}
	*dst = append(*dst, Pair{})
	return d.pairFields(&(*dst)[len(*dst)-1], vs, ve)
}

func (d *reqDecoder) pairFields(p *Pair, i, end int) bool {
	for i < end {
		num, typ, _, vs, ve, next, ok := d.field(i, end)
		if !ok {
			return false
		}
		if typ == protowire.BytesType && p != nil {
			switch num {
			case 1:
				p.Key = d.s[vs:ve]
			case 2:
				p.Value = d.s[vs:ve]
			}
		}
		i = next
	}
	return true
}

func (d *reqDecoder) item(dst *[]string, list, vs, ve int) {
	if !d.fill {
		d.strs[list]++
		return
	}
	*dst = append(*dst, d.s[vs:ve])
}

func microTime(us uint64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(us))
}

func (d *reqDecoder) request(i, end int) bool {
	r := &d.r
	for i < end {
		num, typ, v, vs, ve, next, ok := d.field(i, end)
		if !ok {
			return false
		}
		i = next
		if typ == protowire.VarintType {
			switch num {
			case 13:
				r.RequestTime = microTime(v)
			case 16:
				r.ContentLength = int64(v)
			case 17:
				r.HasBody = v != 0
			case 26:
				r.IsSubrequest = v != 0
			case 27:
				r.IsInternalRedirect = v != 0
			case 29:
				r.Status = int(int32(v))
			case 33:
				r.Mtime = microTime(v)
			case 34:
				r.NoCache = v != 0
			case 38:
				r.WasRedirected = v != 0
			case 41:
				r.PrevStatus = int(int32(v))
			case 42:
				r.BytesSent = int64(v)
			}
			continue
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			d.str(&r.Method, vs, ve)
		case 2:
			d.str(&r.Protocol, vs, ve)
		case 3:
			d.str(&r.TheRequest, vs, ve)
		case 4:
			d.str(&r.UnparsedURI, vs, ve)
		case 5:
			d.str(&r.URI, vs, ve)
		case 6:
			d.str(&r.Args, vs, ve)
		case 7:
			d.str(&r.PathInfo, vs, ve)
		case 8:
			d.str(&r.Filename, vs, ve)
		case 9:
			d.str(&r.Hostname, vs, ve)
		case 10:
			ok = d.pair(&r.Headers, lHeaders, vs, ve)
		case 11:
			d.str(&r.User, vs, ve)
		case 12:
			d.str(&r.AuthType, vs, ve)
		case 14:
			d.str(&r.Handler, vs, ve)
		case 15:
			d.str(&r.ContentType, vs, ve)
		case 18:
			ok = d.pair(&r.Options, lOptions, vs, ve)
		case 19:
			d.str(&r.Plugin, vs, ve)
		case 20:
			d.str(&r.LogID, vs, ve)
		case 21:
			d.str(&r.Location, vs, ve)
		case 22:
			ok = d.connection(vs, ve)
		case 23:
			ok = d.server(vs, ve)
		case 24:
			ok = d.pair(&r.Notes, lNotes, vs, ve)
		case 25:
			ok = d.pair(&r.SubprocessEnv, lEnv, vs, ve)
		case 28:
			d.str(&r.Scheme, vs, ve)
		case 30:
			d.str(&r.StatusLine, vs, ve)
		case 31:
			d.str(&r.ContentEncoding, vs, ve)
		case 32:
			d.item(&r.ContentLanguages, lLanguages, vs, ve)
		case 35:
			d.str(&r.CanonicalFilename, vs, ve)
		case 36:
			ok = d.pair(&r.HeadersOut, lHeadersOut, vs, ve)
		case 37:
			ok = d.pair(&r.ErrHeadersOut, lErrHeadersOut, vs, ve)
		case 39:
			d.str(&r.MainURI, vs, ve)
		case 40:
			d.str(&r.PrevURI, vs, ve)
		case 43:
			d.item(&r.AllowedMethods, lAllowed, vs, ve)
		case 44:
			d.str(&r.AuthName, vs, ve)
		case 45:
			d.str(&r.RemoteHost, vs, ve)
		case 46:
			d.str(&r.Files, vs, ve)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (d *reqDecoder) connection(i, end int) bool {
	r := &d.r
	for i < end {
		num, typ, v, vs, ve, next, ok := d.field(i, end)
		if !ok {
			return false
		}
		i = next
		if typ == protowire.VarintType {
			switch num {
			case 2:
				r.RemotePort = int(uint32(v))
			case 4:
				r.LocalPort = int(uint32(v))
			case 6:
				r.Secure = v != 0
			case 7:
				r.ConnID = v
			case 8:
				r.Keepalives = int(uint32(v))
			}
			continue
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			d.str(&r.RemoteIP, vs, ve)
		case 3:
			d.str(&r.LocalIP, vs, ve)
		case 5:
			d.str(&r.UseragentIP, vs, ve)
		case 9:
			ok = d.pair(&r.ConnNotes, lConnNotes, vs, ve)
		case 10:
			ok = d.tls(vs, ve)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (d *reqDecoder) tls(i, end int) bool {
	var t *TLS
	if d.fill {
		if d.r.TLS == nil {
			d.r.TLS = &TLS{}
		}
		t = d.r.TLS
	}
	for i < end {
		num, typ, _, vs, ve, next, ok := d.field(i, end)
		if !ok {
			return false
		}
		i = next
		if typ != protowire.BytesType || t == nil {
			continue
		}
		switch num {
		case 1:
			t.Protocol = d.s[vs:ve]
		case 2:
			t.Cipher = d.s[vs:ve]
		case 3:
			t.SNI = d.s[vs:ve]
		case 4:
			t.ClientVerify = d.s[vs:ve]
		case 5:
			t.ClientSubject = d.s[vs:ve]
		case 6:
			t.ClientIssuer = d.s[vs:ve]
		case 7:
			t.ClientSerial = d.s[vs:ve]
		}
	}
	return true
}

func (d *reqDecoder) server(i, end int) bool {
	r := &d.r
	for i < end {
		num, typ, v, vs, ve, next, ok := d.field(i, end)
		if !ok {
			return false
		}
		i = next
		if typ == protowire.VarintType {
			switch num {
			case 2:
				r.ServerPort = int(uint32(v))
			case 6:
				r.IsVirtual = v != 0
			case 7:
				r.IsDefault = v != 0
			case 11:
				r.DefinedAt = int(uint32(v))
			case 14:
				r.Timeout = time.Duration(int64(v)) * time.Microsecond
			case 15:
				r.KeepAlive = v != 0
			case 16:
				r.KeepAliveTimeout = time.Duration(int64(v)) * time.Microsecond
			case 17:
				r.KeepAliveMax = int(int32(v))
			case 18:
				r.LimitRequestLine = int(int32(v))
			case 19:
				r.LimitRequestFieldSize = int(int32(v))
			case 20:
				r.LimitRequestFields = int(int32(v))
			}
			continue
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 9:
			if !d.pair(&r.ServerOptions, lServerOptions, vs, ve) {
				return false
			}
		case 10:
			d.str(&r.DefinedIn, vs, ve)
		case 12:
			d.str(&r.ErrorLog, vs, ve)
		case 13:
			d.str(&r.LogLevel, vs, ve)
		case 1:
			d.str(&r.ServerName, vs, ve)
		case 3:
			d.str(&r.ServerAdmin, vs, ve)
		case 4:
			d.str(&r.DocumentRoot, vs, ve)
		case 5:
			d.item(&r.ServerAliases, lAliases, vs, ve)
		case 8:
			d.item(&r.Defines, lDefines, vs, ve)
		}
	}
	return true
}

// DecodeSplit decodes a message whose field reqField is a Request: that
// field by the raw decoder, every other field by proto.Unmarshal into
// rest (whose own reqField stays unset). For the auth calls, whose other
// fields are a few bytes fields: what it saves is the snapshot's.
func DecodeSplit(b []byte, reqField protowire.Number, rest proto.Message) (Request, bool, error) {
	var reqs [][]byte
	var spans [][2]int // where the request field's occurrences are in b
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return Request{}, false, errMalformed
		}
		if num == reqField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b[i+n:])
			if m < 0 {
				return Request{}, false, errMalformed
			}
			reqs = append(reqs, v)
			spans = append(spans, [2]int{i, i + n + m})
			i += n + m
			continue
		}
		m := skipField(num, typ, b[i+n:])
		if m < 0 {
			return Request{}, false, errMalformed
		}
		i += n + m
	}
	// The other fields, in order, for proto.Unmarshal: without a copy when
	// the request is the first or the last field, as the module sends it.
	others := b
	switch {
	case len(spans) == 0:
	case len(spans) == 1 && spans[0][0] == 0:
		others = b[spans[0][1]:]
	case len(spans) == 1 && spans[0][1] == len(b):
		others = b[:spans[0][0]]
	default:
		others = make([]byte, 0, len(b))
		start := 0
		for _, sp := range spans {
			others = append(others, b[start:sp[0]]...)
			start = sp[1]
		}
		others = append(others, b[start:]...)
	}
	if proto.Unmarshal(others, rest) != nil {
		return Request{}, false, errMalformed
	}
	r, err := decodeRequestParts(reqs)
	return r, len(spans) > 0, err
}
