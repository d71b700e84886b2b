package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/queries"
)

// A client that sends its request too slowly loses the connection at the
// read header timeout (headers) or is answered 408 at the read timeout
// (body), whoever it is; the server goes on serving others.
func TestSlowClientsAreCutOff(t *testing.T) {
	db := testdb.NewEmpty(t)
	cfg := defaultConfig()
	cfg.DatabaseURL = db.URL
	cfg.Server.ReadHeaderTimeout = 200 * time.Millisecond
	cfg.Server.ReadTimeout = 400 * time.Millisecond
	addr, stop := serveUntilReady(t, cfg)
	defer stop()
	text, row, err := auth.NewToken("feed", []string{auth.ScopePatientsWrite}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queries.New(db.Pool).CreateToken(context.Background(), row); err != nil {
		t.Fatal(err)
	}

	bodyHead := "POST /api/v1/patients/bulk HTTP/1.1\r\nHost: canopy\r\nAuthorization: Bearer " + text +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n["
	tests := []struct {
		name string
		// head is sent at once; then the client trickles one byte of
		// trickle at a time and never finishes.
		head, trickle string
		// hangUp closes the client's side after head.
		hangUp bool
		// status is the problem the server answers before it closes the
		// connection; 0 when it closes without answering.
		status int
	}{
		{"headers never end", "GET /healthz HTTP/1.1\r\nHost: canopy\r\n", "", false, 0},
		{"headers trickle in", "GET /healthz HTTP/1.1\r\nHost: canopy\r\n", "X-Slow: " + strings.Repeat("z", 10_000), false, 0},
		{"body never ends", bodyHead, "", false, http.StatusRequestTimeout},
		{"body trickles in", bodyHead, strings.Repeat(`{"uid":"p"},`, 10_000), false, http.StatusRequestTimeout},
		{"body broken off", bodyHead, "", true, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A generous deadline: only a server that never cuts the client
			// off reaches it.
			if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(conn, tt.head); err != nil {
				t.Fatal(err)
			}
			if tt.hangUp {
				if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.trickle != "" {
				go func() {
					tick := time.NewTicker(20 * time.Millisecond)
					defer tick.Stop()
					for i := range len(tt.trickle) {
						<-tick.C
						if _, err := io.WriteString(conn, tt.trickle[i:i+1]); err != nil {
							return // the server hung up: what the test waits for
						}
					}
				}()
			}
			reader := bufio.NewReader(conn)
			if tt.status != 0 {
				resp, err := http.ReadResponse(reader, nil)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("answered %d %s %s (%v), want a %d problem", resp.StatusCode, resp.Header.Get("Content-Type"), body, err, tt.status)
				}
			}
			if err := closed(reader); err != nil {
				t.Error(err)
			}
		})
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the slow clients, /healthz answered %d", resp.StatusCode)
	}
}

// closed reads until the server closes the connection, and says what else
// happened instead.
func closed(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return errors.New("the server kept the connection open")
	case err != nil && !strings.Contains(err.Error(), "connection reset"):
		return fmt.Errorf("reading after %d bytes: %v", n, err)
	case n > 0:
		return fmt.Errorf("the server sent %d bytes more", n)
	}
	return nil
}

// --metrics-addr serves /metrics on a listener of its own and takes it off
// the API's.
func TestMetricsAddr(t *testing.T) {
	db := testdb.NewEmpty(t)
	cfg := defaultConfig()
	cfg.DatabaseURL = db.URL
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MetricsAddr = free.Addr().String()
	free.Close()
	addr, stop := serveUntilReady(t, cfg)
	defer stop()
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"http://" + addr + "/metrics", http.StatusNotFound},
		{"http://" + cfg.MetricsAddr + "/metrics", http.StatusOK},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}
