package importer

import (
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		tty          bool
		at           time.Duration
		done, total  int64
		want         string // "" when nothing is due yet
		wantContains []string
	}{
		{name: "plain line, half read", at: 10 * time.Second, done: 50, total: 100,
			want: "articles: 200000 rows, 20,000 rows/s, 50%, ETA 10s\n"},
		{name: "plain line, size unknown", at: 10 * time.Second, done: 50,
			want: "articles: 200000 rows, 20,000 rows/s\n"},
		{name: "not due yet", at: time.Second, done: 50, total: 100},
		{name: "bar", tty: true, at: 10 * time.Second, done: 25, total: 100,
			wantContains: []string{"\rarticles [=======>", "25%", "200,000 rows", "20,000 rows/s", "ETA 30s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			p := newProgress(&out, tt.tty, 0, "articles", start)
			p.update(start.Add(tt.at), 200_000, tt.done, tt.total)
			got := out.String()
			if tt.wantContains == nil && got != tt.want {
				t.Errorf("%q, want %q", got, tt.want)
			}
			for _, part := range tt.wantContains {
				if !strings.Contains(got, part) {
					t.Errorf("%q lacks %q", got, part)
				}
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
