package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// behindNetwork returns a URL of the database at dbURL (a unix-socket URL of
// the bench cluster) that reaches it through a TCP proxy holding every chunk
// of bytes for rtt/2 in each direction: the database as an application
// server meets it across a network, where each round trip costs rtt. Code
// bound by round trips (N+1 queries, a statement per record) pays that per
// statement; canopy pays it once a request. Close stops the proxy.
func behindNetwork(dbURL string, rtt time.Duration) (proxied string, close func(), err error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	socket := filepath.Join(q.Get("host"), ".s.PGSQL."+q.Get("port"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				server, err := net.Dial("unix", socket)
				if err != nil {
					client.Close()
					return
				}
				go delayCopy(server, client, rtt/2)
				delayCopy(client, server, rtt/2)
			}()
		}
	}()
	q.Del("host")
	q.Del("port")
	u.Host = ln.Addr().String()
	u.RawQuery = q.Encode()
	return u.String(), func() { ln.Close() }, nil
}

// delayCopy copies src to dst, writing each chunk delay after it was read
// and in order, then closes dst.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		due  time.Time
		data []byte
	}
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		// time.Sleep would wake up to a millisecond late (the runtime's
		// poller sleeps in milliseconds); nanosleep blocks only this thread.
		if wait := time.Until(c.due); wait > 0 {
			ts := syscall.NsecToTimespec(int64(wait))
			syscall.Nanosleep(&ts, nil)
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	dst.Close()
	for range chunks { // let the reader finish
	}
}

// roundTrip is the p50 of SELECT 1 on a connection to dbURL: what one
// statement's round trip costs there.
func roundTrip(ctx context.Context, dbURL string) (time.Duration, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	s, err := measure(runs{min: 50, max: 200, budget: time.Second}, nil, func() error {
		var one int
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
	if err != nil {
		return 0, err
	}
	if len(s) == 0 {
		return 0, errors.New("no round trips measured")
	}
	return s.p50(), nil
}

// networkNote says where the database of a section was.
func networkNote(rtt time.Duration, measured time.Duration) string {
	return fmt.Sprintf("_Database behind a simulated network: every chunk of bytes held %s each way (a SELECT 1 round trip "+
		"measured at %s ms), smaller data. Read this section for the ratios against round-trip-bound code; "+
		"canopy's own latencies are the loopback ones in RESULTS.md._\n\n", rtt/2, ms(measured))
}
