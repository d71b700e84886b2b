package tree

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MarshalJSON renders the node as the JSON object of its Item with a
// "children" array of the same shape appended: an Item that marshals to
// {"id":1} gives {"id":1,"children":[]} for a leaf, and {} gives
// {"children":[]}. The Item must marshal to a JSON object without a
// "children" member of its own; anything else is an error. Like a struct
// field, the Item is encoded as an addressable value, so a MarshalJSON method
// on *T is used.
//
// The whole subtree is encoded into one buffer, each Item once, so the cost
// is linear in the output even when json.Marshal calls this for every root
// of a forest. Note that encoding/json refuses input nested more than 10000
// levels, two per node, so json.Marshal, json.Valid and json.Unmarshal reject
// a tree more than 5000 nodes deep even though this method renders it.
func (n *Node[T]) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := n.encode(&buf, enc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Appender is an Item that writes its own JSON object, compact, to dst and
// returns the extended slice. Encoding then skips encoding/json altogether:
// for a large forest that is most of the cost. The object must be valid
// compact JSON without a "children" member; that is the Item's promise, not
// checked here.
type Appender interface {
	AppendJSON(dst []byte) []byte
}

// encode writes n to buf, with enc writing to buf as well.
func (n *Node[T]) encode(buf *bytes.Buffer, enc *json.Encoder) error {
	start := buf.Len()
	var item []byte
	if a, ok := any(&n.Item).(Appender); ok {
		buf.Write(a.AppendJSON(buf.AvailableBuffer()))
		buf.WriteByte('\n')
		item = buf.Bytes()[start:]
	} else {
		// Through a pointer, the Item need not be copied into an interface.
		if err := enc.Encode(&n.Item); err != nil {
			return err
		}
		item = buf.Bytes()[start:]
	}
	// Both end the object with a newline, so an object is exactly "{...}\n".
	// Drop the closing brace and newline to append to it.
	if len(item) < 3 || item[0] != '{' || item[len(item)-2] != '}' {
		return fmt.Errorf("tree: item of type %T marshals to %s, not to a JSON object", n.Item, bytes.TrimSpace(item))
	}
	buf.Truncate(buf.Len() - 2)
	if len(item) == 3 {
		buf.WriteString(`"children":[`)
	} else {
		buf.WriteString(`,"children":[`)
	}
	for i, c := range n.Children {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := c.encode(buf, enc); err != nil {
			return err
		}
	}
	buf.WriteString("]}")
	return nil
}
