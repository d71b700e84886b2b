package server

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseEvent is one thing an event stream sent: an event (Event, Data and
// ID), an id alone, or a comment.
type sseEvent struct {
	ID, Event, Data string
	Comment         string
}

// sseStream is an open event stream, read in the background.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{} // closed when the stream ends
	cancel context.CancelFunc
}

// streamWait bounds every wait for an event: far longer than delivery takes,
// and no part of what is asserted.
const streamWait = 15 * time.Second

// openStream GETs an event stream and checks that it starts: 200, the
// event-stream type.
func openStream(t *testing.T, ts *testServer, path string, headers ...string) *sseStream {
	t.Helper()
	s, status := tryStream(t, ts.http.URL+path, headers...)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d", path, status)
	}
	return s
}

// tryStream GETs url and, when the answer is 200, reads it as an event
// stream until the test ends or close.
func tryStream(t *testing.T, url string, headers ...string) (*sseStream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	return readStream(t, resp, cancel), resp.StatusCode
}

// readStream reads resp, a 200 answer, as an event stream until the test
// ends or close; cancel ends its request.
func readStream(t *testing.T, resp *http.Response, cancel context.CancelFunc) *sseStream {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 100_000), done: make(chan struct{}), cancel: cancel}
	t.Cleanup(s.close)
	go s.read()
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// read parses the stream: fields until a blank line make an event.
func (s *sseStream) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.resp.Body)
	var e sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if e != (sseEvent{}) || data != nil {
				e.Data = strings.Join(data, "\n")
				s.events <- e
			}
			e, data = sseEvent{}, nil
		case name == "":
			s.events <- sseEvent{Comment: value}
		case name == "id":
			e.ID = value
		case name == "event":
			e.Event = value
		case name == "data":
			data = append(data, value)
		}
	}
}

// next is the next event with a name (comments and bare ids skipped).
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	timeout := time.After(streamWait)
	for {
		select {
		case e := <-s.events:
			if e.Event != "" {
				return e
			}
		case <-s.done:
			select {
			case e := <-s.events:
				if e.Event != "" {
					return e
				}
				continue
			default:
			}
			t.Fatal("the stream ended")
		case <-timeout:
			t.Fatal("no event in time")
		}
	}
}

// quiet asserts that no named event arrives for a while: what a stream
// must not send cannot be waited for to the end.
func (s *sseStream) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-s.events:
			if e.Event != "" {
				t.Fatalf("unexpected event %+v", e)
			}
		case <-timeout:
			return
		}
	}
}

// startID is the id the stream sent alone at its start, for the client to
// resume from.
func (s *sseStream) startID(t *testing.T) string {
	t.Helper()
	timeout := time.After(streamWait)
	for {
		select {
		case e := <-s.events:
			if e.ID != "" && e.Event == "" {
				return e.ID
			}
		case <-timeout:
			t.Fatal("no id at the start of the stream")
		}
	}
}
