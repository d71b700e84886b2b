package auth_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/queries"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func TestVerify(t *testing.T) {
	db := testdb.New(t)
	store := queries.New(db.Pool)
	ctx := context.Background()
	token, row, err := auth.NewToken("ops", []string{auth.ScopePatientsWrite}, "")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.CreateToken(ctx, row)
	if err != nil {
		t.Fatal(err)
	}
	lookup, secret, _ := strings.Cut(strings.TrimPrefix(token, "cnp_"), "_")
	otherSecret := strings.Repeat("A", 43)
	if secret == otherSecret {
		t.Fatal("improbable secret")
	}

	v := auth.NewVerifier(store, 0)
	p, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenID != stored.ID || p.Name != "ops" || !p.Has(auth.ScopePatientsWrite) || p.Has(auth.ScopePatientsRead) {
		t.Errorf("principal %+v", p)
	}

	refused := map[string]string{
		"wrong secret":     "cnp_" + lookup + "_" + otherSecret,
		"unknown lookup":   "cnp_0000000000000000_" + secret,
		"no prefix":        lookup + "_" + secret,
		"short secret":     "cnp_" + lookup + "_" + secret[:42],
		"empty":            "",
		"lookup not found": "cnp_" + strings.Repeat("f", 16) + "_" + secret,
	}
	for name, bad := range refused {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(ctx, bad); err != auth.ErrInvalidToken {
				t.Errorf("Verify(%q) = %v, want ErrInvalidToken", bad, err)
			}
		})
	}

	cached := auth.NewVerifier(store, time.Hour)
	if _, err := cached.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := store.RevokeToken(ctx, stored.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, token); err != auth.ErrInvalidToken {
		t.Errorf("revoked token, no cache: %v", err)
	}
	// The documented trade: a cached token outlives its revocation by at most the TTL.
	if _, err := cached.Verify(ctx, token); err != nil {
		t.Errorf("revoked token within the cache TTL: %v", err)
	}
}

func TestScopes(t *testing.T) {
	admin := auth.Principal{Scopes: []string{auth.ScopeAdmin}}
	for _, s := range auth.Scopes {
		if !admin.Has(s) {
			t.Errorf("admin lacks %s", s)
		}
	}
	if (auth.Principal{Scopes: []string{auth.ScopeArticlesRead}}).Has(auth.ScopeArticlesWrite) {
		t.Error("articles:read grants articles:write")
	}
	const user = "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"
	for _, tt := range []struct {
		scopes []string
		userID string
		ok     bool
	}{
		{[]string{"admin"}, "", true},
		{[]string{"trees:write", "patients:read"}, "", true},
		{[]string{"articles:read", "articles:write"}, user, true},
		{[]string{"articles:read", "admin"}, user, false}, // it could mint itself an unbound token
		{nil, "", false},
		{[]string{"trees:read"}, "", false},
		{[]string{"ADMIN"}, "", false},
	} {
		if err := auth.CheckScopes(tt.scopes, tt.userID); (err == nil) != tt.ok {
			t.Errorf("CheckScopes(%v, %q) = %v", tt.scopes, tt.userID, err)
		}
	}
}

// A scope named twice is stored once (the outside probe found
// "scopes": ["admin", "admin"] stored as given).
func TestNewTokenScopesOnce(t *testing.T) {
	_, row, err := auth.NewToken("x", []string{auth.ScopeAdmin, auth.ScopeTreesWrite, auth.ScopeAdmin}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{auth.ScopeAdmin, auth.ScopeTreesWrite}; !slices.Equal(row.Scopes, want) {
		t.Errorf("scopes %q, want %q", row.Scopes, want)
	}
}
