package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildPeers compiles the GORM peers (bench/peers, a module of its own so
// that canopy never depends on an ORM) once per run, into dir.
func buildPeers(ctx context.Context, src, dir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "peers"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs, ".")
	cmd.Dir = src
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return abs, cmd.Run()
}

// startPeers serves the GORM peers on the scenario's database and points
// e.peers at them; stop ends them.
func (e *env) startPeers(binary, url string) (stop func(), err error) {
	cmd := exec.CommandContext(e.ctx, binary, "-dsn", url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	var ready struct{ Addr string }
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&ready); err != nil {
		stop()
		return nil, fmt.Errorf("GORM peers did not start: %w", err)
	}
	e.peers = "http://" + ready.Addr
	return stop, nil
}

// peer times a request to the GORM peers as r allows and returns its
// latencies and statement count; body, when set, makes a fresh request body
// before each request (untimed). With the peers skipped (-peers=false) it
// returns no samples and -1 statements.
func (e *env) peer(r runs, method, path string, body func() ([]byte, error)) (samples, int, error) {
	if e.peers == "" {
		return nil, -1, nil
	}
	var payload []byte
	prepare := func() (err error) {
		if body != nil {
			payload, err = body()
		}
		return err
	}
	statements := -1
	s, err := measure(r, prepare, func() (err error) {
		if method == "POST" {
			_, statements, err = e.postTo(e.peers+path, payload)
		} else {
			_, statements, err = e.get(e.peers + path)
		}
		return err
	})
	return s, statements, err
}
