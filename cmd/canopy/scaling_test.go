package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/queries"
)

// call sends one request to a running canopy and returns the response with
// its body read.
func call(t *testing.T, method, url, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func writeToken(t *testing.T, db *testdb.DB) string {
	t.Helper()
	text, row, err := auth.NewToken("scaling test", []string{auth.ScopeTreesWrite}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queries.New(db.Pool).CreateToken(context.Background(), row); err != nil {
		t.Fatal(err)
	}
	return text
}

// canopy keeps no state of its own that changes an answer: two instances on
// one database answer alike, and an ETag one of them issued is current at
// the other, since it is the tree's version in the database.
func TestTwoInstancesAgree(t *testing.T) {
	db := testdb.New(t)
	cfg := defaultConfig()
	cfg.DatabaseURL = db.URL
	addrA, stopA := serveUntilReady(t, cfg)
	defer stopA()
	addrB, stopB := serveUntilReady(t, cfg)
	defer stopB()
	a, b := "http://"+addrA+"/api/v1/categories", "http://"+addrB+"/api/v1/categories"
	token := writeToken(t, db)

	for _, tt := range []struct {
		name          string
		writer, other string
		body          string
	}{
		{"write through A, read through B", a, b, `{"name":"A"}`},
		{"write through B, read through A", b, a, `{"name":"B"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stale, _ := call(t, "GET", tt.other+"/tree", "")
			if resp, body := call(t, "POST", tt.writer, tt.body, "Authorization", "Bearer "+token); resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST: %d %s", resp.StatusCode, body)
			}
			fromWriter, writerBody := call(t, "GET", tt.writer+"/tree", "")
			fromOther, otherBody := call(t, "GET", tt.other+"/tree", "")
			etag := fromWriter.Header.Get("ETag")
			if writerBody != otherBody || etag == "" || fromOther.Header.Get("ETag") != etag {
				t.Errorf("the instances differ:\n%s %s\n%s %s", etag, writerBody, fromOther.Header.Get("ETag"), otherBody)
			}
			if etag == stale.Header.Get("ETag") {
				t.Errorf("the write left the ETag at %s", etag)
			}
			if resp, _ := call(t, "GET", tt.other+"/tree", "", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
				t.Errorf("the writer's ETag at the other instance: %d, want 304", resp.StatusCode)
			}
			if resp, _ := call(t, "GET", tt.writer+"/tree", "", "If-None-Match", stale.Header.Get("ETag")); resp.StatusCode != http.StatusOK {
				t.Errorf("the other's stale ETag at the writer: %d, want 200", resp.StatusCode)
			}
		})
	}
}

// serve reads from the replicas it is given, and writes to the primary.
func TestServeWithReplica(t *testing.T) {
	rdb := testdb.NewReplicated(t)
	cfg := defaultConfig()
	cfg.DatabaseURL = rdb.URL
	cfg.ReplicaURLs = []string{rdb.ReplicaURL}
	addr, stop := serveUntilReady(t, cfg)
	defer stop()
	url := "http://" + addr + "/api/v1/categories"
	token := writeToken(t, rdb.DB)
	if resp, body := call(t, "POST", url, `{"name":"A"}`, "Authorization", "Bearer "+token); resp.StatusCode != http.StatusCreated ||
		resp.Header.Get("Canopy-Served-By") != "primary" {
		t.Fatalf("POST: %d served by %q: %s", resp.StatusCode, resp.Header.Get("Canopy-Served-By"), body)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, body := call(t, "GET", url+"/tree", "")
		if resp.Header.Get("Canopy-Served-By") == "replica-1" && strings.Contains(body, `"name":"A"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no GET served by the replica with the write: last %d served by %q: %s", resp.StatusCode, resp.Header.Get("Canopy-Served-By"), body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReplicaFlags(t *testing.T) {
	t.Setenv("CANOPY_REPLICA_URLS", "postgres://r1/db, postgres://r2/db")
	t.Setenv("CANOPY_REPLICA_MAX_LAG", "2s")
	for _, tt := range []struct {
		name   string
		args   []string
		urls   []string
		maxLag time.Duration
	}{
		{"environment", nil, []string{"postgres://r1/db", "postgres://r2/db"}, 2 * time.Second},
		{"flags replace the environment", []string{"--replica-url", "postgres://r3/db", "--replica-url", "postgres://r4/db", "--replica-max-lag", "100ms"},
			[]string{"postgres://r3/db", "postgres://r4/db"}, 100 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := fromEnv()
			if err != nil {
				t.Fatal(err)
			}
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			cfg.serveFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.ReplicaURLs, tt.urls) || cfg.ReplicaMaxLag != tt.maxLag {
				t.Errorf("replicas %q, max lag %s", cfg.ReplicaURLs, cfg.ReplicaMaxLag)
			}
		})
	}
}
