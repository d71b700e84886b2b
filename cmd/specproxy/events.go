package main

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// isEventStream says the answer is server-sent events.
func isEventStream(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/event-stream"
}

// event is one complete event of a text/event-stream.
type event struct {
	id, name, data string
	named, hasData bool // it has an event field, a data field
}

// parseEvents reads the complete events of a stream, those ended by a blank
// line: the cut may leave a partial one at the end, which is dropped. Comment
// lines (":...") are skipped, and so are blocks of only id and retry fields,
// which set the client's last event id or reconnection delay and dispatch
// nothing. An event with no event field is "message".
func parseEvents(stream []byte) []event {
	lines := strings.Split(strings.ReplaceAll(string(stream), "\r\n", "\n"), "\n")
	lines = lines[:len(lines)-1] // the text after the last newline: a line not yet ended
	var out []event
	var cur event
	var data []string
	for _, line := range lines {
		field, value, _ := strings.Cut(line, ":")
		switch {
		case line == "":
			if cur.named || cur.hasData {
				cur.data = strings.Join(data, "\n")
				if !cur.named {
					cur.name = "message"
				}
				out = append(out, cur)
			}
			cur, data = event{}, nil
		case field == "":
			// a comment, such as a keep-alive
		default:
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				cur.name, cur.named = value, true
			case "data":
				data, cur.hasData = append(data, value), true
			case "id":
				cur.id = value
			}
		}
	}
	return out
}

// checkEvents checks each complete event of a stream against the operation's
// x-canopy-events: the event's name must be listed there, it must carry data
// (EventSource drops an event without a data line), and the data must match
// the schema the name maps to ("" for none). It returns what is wrong, or "".
func (c *checker) checkEvents(op *v3.Operation, stream []byte) string {
	listed := extension(op, "x-canopy-events")
	for _, e := range parseEvents(stream) {
		name, ok := listed[e.name]
		switch {
		case !ok:
			return fmt.Sprintf("event %q (id %q) is not one x-canopy-events lists", e.name, e.id)
		case !e.hasData:
			return fmt.Sprintf("event %q (id %q) has no data line: EventSource drops it", e.name, e.id)
		case name == "":
			continue
		}
		schema := c.model.Components.Schemas.GetOrZero(name)
		if schema == nil {
			return fmt.Sprintf("x-canopy-events names %q, which is no schema of the document", name)
		}
		if ok, errs := c.schemas.ValidateSchemaStringWithVersion(schema.Schema(), e.data, 3.1); !ok {
			return fmt.Sprintf("event %q (id %q) does not match %s: %s", e.name, e.id, name, describe(errs))
		}
	}
	return ""
}
