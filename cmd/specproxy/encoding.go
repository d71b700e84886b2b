package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// decoded is an answer as its client reads it: its body with the
// Content-Encoding (gzip or zstd, which canopy sends to a client that asks
// for them) undone, and its header without Content-Encoding and
// Content-Length, which described the bytes sent. A compressed answer must
// say Vary: Accept-Encoding, or a shared cache could hand it to a client
// that cannot read it.
func decoded(resp *http.Response, body []byte) (*http.Response, []byte, error) {
	ce := resp.Header.Get("Content-Encoding")
	if ce == "" {
		return resp, body, nil
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
		return nil, nil, fmt.Errorf("a %s answer without Vary: Accept-Encoding", ce)
	}
	var plain []byte
	var err error
	switch ce {
	case "gzip":
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			plain, err = io.ReadAll(zr)
		}
	case "zstd":
		var zr *zstd.Decoder
		if zr, err = zstd.NewReader(nil); err == nil {
			plain, err = zr.DecodeAll(body, nil)
			zr.Close()
		}
	default:
		err = fmt.Errorf("canopy sends no %q", ce)
	}
	if err != nil && len(body) > 0 { // a HEAD answer names the coding of a body it does not send
		return nil, nil, fmt.Errorf("the %s body does not decode: %w", ce, err)
	}
	out := *resp
	out.Header = resp.Header.Clone()
	out.Header.Del("Content-Encoding")
	out.Header.Del("Content-Length")
	return &out, plain, nil
}
