package server

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON writes the node as json.Marshal would, byte for byte (a test
// holds it to that), without reflection: a 10k-node tree is mostly this.
func (n node) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, n.ID, 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, n.Kind)
	b = append(b, `,"parent_id":`...)
	if n.ParentID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *n.ParentID, 10)
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, n.Name)
	b = append(b, `,"position":`...)
	b = strconv.AppendInt(b, int64(n.Position), 10)
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(n.Depth), 10)
	b = append(b, `,"path":`...)
	if n.Path == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range n.Path {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		b = append(b, ']')
	}
	b = append(b, `,"child_count":`...)
	b = strconv.AppendInt(b, int64(n.ChildCount), 10)
	if n.Code != "" {
		b = append(b, `,"code":`...)
		b = appendJSONString(b, n.Code)
	}
	if n.Beds != nil {
		b = append(b, `,"beds":`...)
		b = strconv.AppendInt(b, int64(*n.Beds), 10)
	}
	if n.Occupied != nil {
		b = append(b, `,"occupied":`...)
		b = strconv.AppendInt(b, int64(*n.Occupied), 10)
	}
	if n.Match {
		b = append(b, `,"match":true`...)
	}
	return append(b, '}')
}

// appendJSONString quotes s as encoding/json does (HTML-safe): control
// characters, quotes, backslashes, <, > and & escaped, U+2028 and U+2029
// escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
