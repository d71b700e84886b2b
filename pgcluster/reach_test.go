package pgcluster

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestMayEnter(t *testing.T) {
	postgres := &syscall.Credential{Uid: 100, Gid: 200}
	tests := []struct {
		name     string
		perm     os.FileMode
		uid, gid uint32
		want     bool
	}{
		{"root's private home", 0o700, 0, 0, false},
		{"open to others", 0o711, 0, 0, true},
		{"others' bit only", 0o701, 0, 0, true},
		{"its own private directory", 0o700, 100, 0, true},
		{"its own, owner's bit off", 0o077, 100, 200, false},
		{"its group's", 0o750, 0, 200, true},
		{"its group's, group bit off", 0o705, 0, 200, false},
		{"another group's", 0o750, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayEnter(tt.perm, tt.uid, tt.gid, postgres); got != tt.want {
				t.Errorf("mayEnter(%v, uid %d, gid %d) = %v", tt.perm, tt.uid, tt.gid, got)
			}
		})
	}
}

// unreachableParent names the first parent, from the data directory up, that
// the server's user cannot enter; it works the same whoever runs the test,
// since it reads permission bits for a given credential.
func TestUnreachableParent(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	open := filepath.Join(home, "checkout", "open")
	if err := os.MkdirAll(open, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, mode := range map[string]os.FileMode{base: 0o755, home: 0o700, filepath.Dir(open): 0o755, open: 0o755} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	me := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	stranger := &syscall.Credential{Uid: me.Uid + 4242, Gid: me.Gid + 4242}
	dataDir := filepath.Join(open, "pgdata", "not-yet")
	// t.TempDir's own parent is private too: the nearest one counts.
	if got := unreachableParent(dataDir, stranger); got != home {
		t.Errorf("for another user: %q, want %s", got, home)
	}
	if got := unreachableParent(dataDir, me); got != "" {
		t.Errorf("for the directories' owner: %q, want none", got)
	}
}
