package leangrpc

import (
	"errors"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Header blocks are decoded here rather than by the Framer's
// ReadMetaHeaders, which allocates a MetaHeadersFrame, a closure and a
// growing Fields slice for every block (about 7 allocations per call, on
// a path whose whole budget is a few dozen). The checks are the Framer's
// (x/net/http2 readMetaFrame and checkPseudos), with the same outcomes: a
// malformed field resets the stream with PROTOCOL_ERROR, an hpack error
// is a connection error COMPRESSION_ERROR, a block far over the size
// limit a connection error PROTOCOL_ERROR, and fields past the limit are
// dropped.

// headerBlock is the state of the block being decoded; only the goroutine
// holding the read token touches it.
type headerBlock struct {
	fields         []hpack.HeaderField // reused from block to block
	invalid        error
	sawRegular     bool
	headersRemain  uint32
	trailersRemain uint32
}

var (
	errPseudoAfterRegular = errors.New("leangrpc: pseudo header field after regular")
	errHeaderFieldName    = errors.New("leangrpc: invalid header field name")
	errHeaderFieldValue   = errors.New("leangrpc: invalid header field value")
	errPseudoHeader       = errors.New("leangrpc: invalid or duplicate pseudo header field")
	errMixPseudo          = errors.New("leangrpc: mix of request and response pseudo headers")
)

// onField is the hpack decoder's emit function.
func (c *conn) onField(hf hpack.HeaderField) {
	b := &c.hb
	if !httpguts.ValidHeaderFieldValue(hf.Value) {
		b.invalid = errHeaderFieldValue
	}
	if strings.HasPrefix(hf.Name, ":") {
		if b.sawRegular {
			b.invalid = errPseudoAfterRegular
		}
	} else {
		b.sawRegular = true
		if !validWireHeaderFieldName(hf.Name) {
			b.invalid = errHeaderFieldName
		}
	}
	if b.invalid != nil {
		c.hdec.SetEmitEnabled(false)
		return
	}
	remain := &b.headersRemain
	var size uint32
	if hf.Name == "trailer" {
		remain = &b.trailersRemain
		n := strings.Count(hf.Value, ",") + 1
		size = uint32(len(hf.Value)-n+1) + uint32(n)*hpack.HeaderField{}.Size()
	} else {
		size = hf.Size()
	}
	if size > *remain {
		c.hdec.SetEmitEnabled(false)
		b.headersRemain, b.trailersRemain = 0, 0
		return
	}
	*remain -= size
	b.fields = append(b.fields, hf)
}

// readHeaderBlock decodes the block that hf starts, reading its
// CONTINUATION frames; the caller holds the read token. The fields are
// valid until the next block is read.
func (c *conn) readHeaderBlock(hf *http2.HeadersFrame) ([]hpack.HeaderField, error) {
	b := &c.hb
	*b = headerBlock{fields: b.fields[:0], headersRemain: maxHeaderList, trailersRemain: maxHeaderList}
	c.hdec.SetEmitEnabled(true)
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	for {
		if int64(len(frag)) > 2*int64(b.headersRemain+b.trailersRemain) || b.invalid != nil {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if _, err := c.hdec.Write(frag); err != nil {
			return nil, http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		cf := f.(*http2.ContinuationFrame) // the Framer checks the order
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := c.hdec.Close(); err != nil {
		return nil, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if b.invalid != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: b.invalid}
	}
	if err := checkPseudos(b.fields); err != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return b.fields, nil
}

// checkPseudos is x/net/http2's MetaHeadersFrame.checkPseudos.
func checkPseudos(fields []hpack.HeaderField) error {
	var isRequest, isResponse bool
	for i, hf := range fields {
		if !hf.IsPseudo() {
			break // the pseudo fields come first (onField checks it)
		}
		switch hf.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			isRequest = true
		case ":status":
			isResponse = true
		default:
			return errPseudoHeader
		}
		for _, hf2 := range fields[:i] {
			if hf.Name == hf2.Name {
				return errPseudoHeader
			}
		}
	}
	if isRequest && isResponse {
		return errMixPseudo
	}
	return nil
}

// validWireHeaderFieldName is x/net/http2's: a token, in lower case.
func validWireHeaderFieldName(v string) bool {
	if len(v) == 0 {
		return false
	}
	for _, r := range v {
		if !httpguts.IsTokenRune(r) || ('A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}
