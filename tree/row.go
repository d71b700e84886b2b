package tree

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// Row is one row of one of canopy's trees, as the database gives it and as
// the API shows it: a tree node (a category or a department) or a leaf hung
// under one (a ward). Package queries reads rows straight into the Items of
// a []Node[Row] and links them with Link; the forest is then written out
// with AppendRows, each row as by AppendJSON. The struct tags describe the
// same JSON as AppendJSON, which a test holds to them byte for byte.
type Row struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`      // "category", "department" or "ward"
	ParentID *int64 `json:"parent_id"` // nil for a root; a leaf's tree node
	Name     string `json:"name"`
	Position int32  `json:"position"` // 0 for a leaf
	// Depth and Path are the row's place in the whole tree, also in the
	// rows of a subtree or a search: Path runs from the root to the row
	// itself (a leaf's is its tree node's plus its own id), and Depth is
	// len(Path)-1. For a node caught in a loop written by hand (with the
	// cycle trigger disabled) they describe the loop as far as it was walked.
	Depth int     `json:"depth"`
	Path  []int64 `json:"path"`
	// ChildCount counts direct children, and a department's wards, also for
	// a node whose children a depth limit left out.
	ChildCount int    `json:"child_count"`
	Code       string `json:"code,omitempty"`     // departments only
	Beds       *int   `json:"beds,omitempty"`     // leaves only
	Occupied   *int   `json:"occupied,omitempty"` // leaves only: patients admitted, not discharged, not dead
	Match      bool   `json:"match,omitempty"`    // search only: the row itself matched the query
	// Leaf marks a row of another table hung under a tree node (a ward):
	// its id may equal a tree node's, and it has no children.
	Leaf bool `json:"-"`
}

// RowKey tells a leaf from a tree node with the same id.
type RowKey struct {
	Leaf bool
	ID   int64
}

// Key is the row's key in its forest.
func (r Row) Key() RowKey { return RowKey{r.Leaf, r.ID} }

// ParentKey is the key of the row's parent, which is always a tree node:
// leaves have no children.
func (r Row) ParentKey() (RowKey, bool) {
	if r.ParentID == nil {
		return RowKey{}, false
	}
	return RowKey{ID: *r.ParentID}, true
}

// SortKey orders siblings by position, name and id (ByPositionNameID).
func (r Row) SortKey() (int64, string, int64) { return int64(r.Position), r.Name, r.ID }

// AppendJSON writes the row as json.Marshal would, byte for byte, without
// reflection: a 10k-node tree is mostly this.
func (r *Row) AppendJSON(b []byte) []byte {
	return append(r.appendTail(appendPath(r.appendHead(b), r.Path)), '}')
}

// appendHead writes the row's members before its path, up to "path":.
func (r *Row) appendHead(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, r.Kind)
	b = append(b, `,"parent_id":`...)
	if r.ParentID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *r.ParentID, 10)
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, r.Name)
	b = append(b, `,"position":`...)
	b = strconv.AppendInt(b, int64(r.Position), 10)
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(r.Depth), 10)
	return append(b, `,"path":`...)
}

func appendPath(b []byte, path []int64) []byte {
	if path == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, id := range path {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, ']')
}

// appendTail writes the row's members after its path, without the
// closing brace.
func (r *Row) appendTail(b []byte) []byte {
	b = append(b, `,"child_count":`...)
	b = strconv.AppendInt(b, int64(r.ChildCount), 10)
	if r.Code != "" {
		b = append(b, `,"code":`...)
		b = appendJSONString(b, r.Code)
	}
	if r.Beds != nil {
		b = append(b, `,"beds":`...)
		b = strconv.AppendInt(b, int64(*r.Beds), 10)
	}
	if r.Occupied != nil {
		b = append(b, `,"occupied":`...)
		b = strconv.AppendInt(b, int64(*r.Occupied), 10)
	}
	if r.Match {
		b = append(b, `,"match":true`...)
	}
	return b
}

// AppendRows appends a forest of rows to dst as a JSON array, byte for
// byte as json.Marshal renders it, in one pass with no buffer or interface
// between: the cold read of a whole tree is mostly this. A row's path is usually its parent's with its
// own id added, and then it is copied from the parent's text instead of
// formatted again id by id, which in a deep forest is most of the bytes.
func AppendRows(dst []byte, roots []*Node[Row]) []byte {
	dst = append(dst, '[')
	for i, n := range roots {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendRow(dst, n, nil, 0, 0)
	}
	return append(dst, ']')
}

// appendRow appends n and its subtree; dst[from:to] is the text of parent,
// the path of n's parent (nil for a root).
func appendRow(dst []byte, n *Node[Row], parent []int64, from, to int) []byte {
	r := &n.Item
	dst = r.appendHead(dst)
	start := len(dst)
	if k := len(parent); k > 0 && len(r.Path) == k+1 && r.Path[k] == r.ID && slices.Equal(r.Path[:k], parent) {
		// The parent's text without its "]": no reallocation can
		// overwrite it, as it lies before len(dst).
		dst = append(dst, dst[from:to-1]...)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, r.ID, 10)
		dst = append(dst, ']')
	} else {
		dst = appendPath(dst, r.Path)
	}
	end := len(dst)
	dst = append(r.appendTail(dst), `,"children":[`...)
	for i, c := range n.Children {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendRow(dst, c, r.Path, start, end)
	}
	return append(dst, "]}"...)
}

// JSONSize is the size of the JSON that AppendRows writes for a forest of
// nodes, overestimated (by a third or so for short ids) as long as ids have
// at most six digits and names need no escapes, so that a buffer of that
// size need not grow: growing a 10k-node tree's from empty copied and
// cleared it a dozen times.
func JSONSize(nodes []Node[Row]) int {
	size := 64
	for i := range nodes {
		r := &nodes[i].Item
		size += 144 + len(r.Name) + len(r.Code) + 7*len(r.Path)
		if r.Beds != nil {
			size += 32
		}
	}
	return size
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
