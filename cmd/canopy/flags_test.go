package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		wantArgs []string
		wantURL  string
		wantN    int
		wantErr  bool
	}{
		{"flags first", []string{"--url", "u", "up"}, []string{"up"}, "u", 0, false},
		{"flags last", []string{"down", "1", "--url", "u"}, []string{"down", "1"}, "u", 0, false},
		{"flags between", []string{"down", "-n=3", "1", "--url", "u"}, []string{"down", "1"}, "u", 3, false},
		{"no arguments", []string{"--url", "u"}, nil, "u", 0, false},
		{"after -- all are arguments", []string{"revoke", "--", "-n", "5"}, []string{"revoke", "-n", "5"}, "", 0, false},
		{"-- first", []string{"--", "--url"}, []string{"--url"}, "", 0, false},
		{"unknown flag after the action", []string{"up", "--sideways"}, nil, "", 0, true},
		{"flag without its value", []string{"up", "--url"}, nil, "", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			url := fs.String("url", "", "")
			n := fs.Int("n", 0, "")
			got, err := parseArgs(fs, c.args, io.Discard)
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			if !slices.Equal(got, c.wantArgs) || *url != c.wantURL || *n != c.wantN {
				t.Errorf("args %q url %q n %d; want %q %q %d", got, *url, *n, c.wantArgs, c.wantURL, c.wantN)
			}
		})
	}
}
