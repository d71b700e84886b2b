package queries_test

import (
	"os"
	"testing"

	"canopy/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
