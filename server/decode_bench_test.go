package server

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
)

// BenchmarkDecodeBatch decodes a full observations batch: 50,000 records,
// about 4.5 MB, the Go side of the largest bulk request.
func BenchmarkDecodeBatch(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("[")
	for i := range observationsBatchLimit {
		if i > 0 {
			buf.WriteString(",\n")
		}
		fmt.Fprintf(&buf, `{"patient_uid":"W%03d","code":"heart_rate","observed_at":"2024-06-01T%02d:%02d:00Z","value":%d.5}`, i%20, (i/60)%24, i%60, 60+i%40)
	}
	buf.WriteString("]")
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeBatch(httptest.NewRequest("POST", "/", bytes.NewReader(body)), observationsBatchLimit, (*observationRecord).record); err != nil {
			b.Fatal(err)
		}
	}
}
