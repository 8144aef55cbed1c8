package wire

import (
	"strings"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// ValidField reports whether value is acceptable for a FieldUpdate of f.
// It mirrors gb_mutate_valid_field in mod_gobridge/gb_mutate.c: the module
// refuses a whole PhaseResponse when one value breaks these rules.
func ValidField(f pb.FieldUpdate_Field, v string) bool {
	switch f {
	case pb.FieldUpdate_FIELD_FILENAME, pb.FieldUpdate_FIELD_CANONICAL_FILENAME, pb.FieldUpdate_FIELD_URI:
		return strings.HasPrefix(v, "/") && noCtl(v)
	case pb.FieldUpdate_FIELD_PATH_INFO:
		return v == "" || (strings.HasPrefix(v, "/") && noCtl(v))
	case pb.FieldUpdate_FIELD_ARGS:
		return noCtlSpace(v) && !strings.Contains(v, "#")
	case pb.FieldUpdate_FIELD_HANDLER:
		return noCtlSpace(v)
	case pb.FieldUpdate_FIELD_CONTENT_TYPE:
		return validContentType(v)
	case pb.FieldUpdate_FIELD_CONTENT_ENCODING, pb.FieldUpdate_FIELD_AUTH_TYPE:
		return v == "" || ValidName(v)
	case pb.FieldUpdate_FIELD_CONTENT_LANGUAGES:
		return v == "" || validLanguages(v)
	case pb.FieldUpdate_FIELD_USER:
		return noCtl(v)
	case pb.FieldUpdate_FIELD_STATUS_LINE:
		if v == "" {
			return true
		}
		return len(v) >= 5 && v[0] >= '1' && v[0] <= '5' && isDigit(v[1]) && isDigit(v[2]) && v[3] == ' ' && noCtl(v)
	case pb.FieldUpdate_FIELD_NO_CACHE:
		return v == "0" || v == "1"
	case pb.FieldUpdate_FIELD_ALLOWED_METHODS:
		return v == "" || validMethods(v)
	case pb.FieldUpdate_FIELD_GOBRIDGE_HANDLER, pb.FieldUpdate_FIELD_ADD_GOBRIDGE_OUTPUT_FILTER,
		pb.FieldUpdate_FIELD_ADD_GOBRIDGE_INPUT_FILTER:
		return validPluginName(v)
	case pb.FieldUpdate_FIELD_ADD_OUTPUT_FILTER, pb.FieldUpdate_FIELD_ADD_INPUT_FILTER:
		return ValidName(v)
	case pb.FieldUpdate_FIELD_MTIME:
		if v == "" || len(v) > 18 {
			return false
		}
		for i := 0; i < len(v); i++ {
			if !isDigit(v[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// validPluginName: a GoBridgePlugin name as the directive accepts it
// (whether one is declared is httpd's to check).
func validPluginName(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isDigit(c) && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// ValidReply reports whether a phase's own response may be sent: a status
// in 200..599 and, when given, a valid content type. It mirrors the check
// of PhaseResponse.reply in gb_mutate_check.
func ValidReply(status int, contentType string) bool {
	return status >= 200 && status <= 599 && (contentType == "" || validContentType(contentType))
}

// validMethods: comma-separated method tokens, spaces after commas.
func validMethods(s string) bool {
	tok := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ',' && tok > 0:
			tok = 0
			for i+1 < len(s) && s[i+1] == ' ' {
				i++
			}
		case isTchar(c):
			tok++
		default:
			return false
		}
	}
	return tok > 0
}

// ValidRedirect reports whether uri is a local URI an internal redirect may
// go to: "/path[?query]", no control characters, spaces or fragment.
func ValidRedirect(uri string) bool {
	return strings.HasPrefix(uri, "/") && noCtlSpace(uri) && !strings.Contains(uri, "#")
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func noCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func noCtlSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func tokenLen(s string) int {
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return i
}

func validContentType(s string) bool {
	i := tokenLen(s)
	if i == 0 || i >= len(s) || s[i] != '/' {
		return false
	}
	s = s[i+1:]
	i = tokenLen(s)
	if i == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i < len(s) && s[i] == ';' && ValidValue(s[i:])
}

func validLanguages(s string) bool {
	tag := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			tag++
		case c == ',' && tag > 0:
			tag = 0
			for i+1 < len(s) && s[i+1] == ' ' {
				i++
			}
		default:
			return false
		}
	}
	return tag > 0
}

// RawPhaseResponse, returned as the error of a phase method, is sent to
// the module as it is, bypassing every check of the SDK. Only the module's
// own tests use it (internal packages cannot be imported from outside this
// module), to make sure the module refuses what the SDK never sends.
type RawPhaseResponse struct {
	Resp *pb.PhaseResponse
}

func (e *RawPhaseResponse) Error() string { return "wire: raw phase response" }
