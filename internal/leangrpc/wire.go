package leangrpc

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/status"
)

// toStatus is the status a handler's error (non-nil) ends its call with, as grpc-go
// maps it: status errors as they are, context errors to Canceled or
// DeadlineExceeded, anything else to Unknown.
func toStatus(err error) *status.Status {
	if s, ok := status.FromError(err); ok {
		return s
	}
	return status.FromContextError(err)
}

// parseTimeout parses a grpc-timeout value: at most 8 digits and a unit.
func parseTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// encodeGrpcMessage percent-encodes what the gRPC spec asks to: bytes
// outside printable ASCII and '%'.
func encodeGrpcMessage(msg string) string {
	clean := true
	for i := 0; i < len(msg); i++ {
		if b := msg[i]; b < 0x20 || b > 0x7e || b == '%' {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	var sb strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(msg); i++ {
		if b := msg[i]; b < 0x20 || b > 0x7e || b == '%' {
			sb.WriteByte('%')
			sb.WriteByte(hex[b>>4])
			sb.WriteByte(hex[b&15])
		} else {
			sb.WriteByte(b)
		}
	}
	return sb.String()
}

// decodeBin decodes a -bin header value, padded or not.
func decodeBin(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// isReserved reports headers gRPC owns, which metadata must not set.
func isReserved(k string) bool {
	switch k {
	case "content-type", "user-agent", "grpc-message-type", "grpc-encoding",
		"grpc-message", "grpc-status", "grpc-timeout", "grpc-status-details-bin", "te":
		return true
	}
	return strings.HasPrefix(k, ":")
}

func hpackField(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}
