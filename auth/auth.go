// Package auth issues and checks canopy's bearer tokens and knows what each
// scope allows.
//
// A token reads cnp_<lookup>_<secret>. The lookup part finds the stored row;
// only a SHA-256 hash of the secret is stored, and it is compared in constant
// time. Neither the token nor its secret is ever logged or stored.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"canopy/queries"
)

// Scopes, as in the API contract. Admin holds every other scope.
const (
	ScopeTreesWrite      = "trees:write"
	ScopePatientsRead    = "patients:read"
	ScopePatientsWrite   = "patients:write"
	ScopeArticlesRead    = "articles:read"
	ScopeArticlesWrite   = "articles:write"
	ScopeSettlementsRead = "settlements:read"
	ScopeAdmin           = "admin"
)

// Scopes lists every scope a token may carry.
var Scopes = []string{ScopeTreesWrite, ScopePatientsRead, ScopePatientsWrite, ScopeArticlesRead,
	ScopeArticlesWrite, ScopeSettlementsRead, ScopeAdmin}

// ErrInvalidToken: the token is malformed, unknown, revoked, or its secret is wrong.
var ErrInvalidToken = errors.New("invalid or revoked token")

const prefix = "cnp_"

// Principal is who a valid token speaks for.
type Principal struct {
	TokenID int64
	Name    string
	Scopes  []string
	// UserID, when set, is the one user whose articles the token may read.
	UserID string
}

// Has reports whether the principal holds scope, directly or through admin.
func (p Principal) Has(scope string) bool {
	return slices.Contains(p.Scopes, scope) || slices.Contains(p.Scopes, ScopeAdmin)
}

// CheckScopes returns an error naming the first unknown scope, if any, or
// admin on a token bound to a user (userID not ""): admin manages tokens,
// so a bound admin token could mint itself an unbound one.
func CheckScopes(scopes []string, userID string) error {
	if len(scopes) == 0 {
		return errors.New("a token needs at least one scope")
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(Scopes, ", "))
		}
	}
	if userID != "" && slices.Contains(scopes, ScopeAdmin) {
		return errors.New("a token bound to a user cannot hold admin, which manages every token")
	}
	return nil
}

// NewToken makes a fresh token: the text to hand to its holder once, and the
// row to store (lookup and secret hash filled in).
func NewToken(name string, scopes []string, userID string) (token string, row queries.Token, err error) {
	var lookup [8]byte
	var secret [32]byte
	if _, err := rand.Read(lookup[:]); err != nil {
		return "", queries.Token{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", queries.Token{}, err
	}
	encoded := base64.RawURLEncoding.EncodeToString(secret[:])
	hash := sha256.Sum256([]byte(encoded))
	// A scope named twice is held once: "admin,admin" is stored as admin.
	var once []string
	for _, s := range scopes {
		if !slices.Contains(once, s) {
			once = append(once, s)
		}
	}
	row = queries.Token{Lookup: hex.EncodeToString(lookup[:]), SecretHash: hash[:], Name: name, Scopes: once, UserID: userID}
	return prefix + row.Lookup + "_" + encoded, row, nil
}

// parse splits a token into its lookup part and its secret's hash.
func parse(token string) (lookup string, hash [32]byte, ok bool) {
	rest, found := strings.CutPrefix(token, prefix)
	if !found {
		return "", hash, false
	}
	lookup, secret, found := strings.Cut(rest, "_")
	if !found || len(lookup) != 16 || len(secret) != 43 {
		return "", hash, false
	}
	return lookup, sha256.Sum256([]byte(secret)), true
}

// TokenStore finds stored tokens.
type TokenStore interface {
	TokenByLookup(ctx context.Context, lookup string) (queries.Token, error)
}

// Verifier checks bearer tokens. It remembers stored tokens for at most TTL,
// so a revocation takes effect within TTL; a TTL of 0 reads the database for
// every request.
type Verifier struct {
	store TokenStore
	ttl   time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	token   queries.Token
	expires time.Time
}

// maxCached bounds the cache: past it, the cache starts afresh.
const maxCached = 10_000

// NewVerifier returns a Verifier reading tokens from store.
func NewVerifier(store TokenStore, ttl time.Duration) *Verifier {
	return &Verifier{store: store, ttl: ttl, cache: make(map[string]cached)}
}

// Verify returns the principal a token speaks for, ErrInvalidToken, or an
// error from the store (such as queries.ErrUnavailable).
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	lookup, hash, ok := parse(token)
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	stored, err := v.stored(ctx, lookup)
	if errors.Is(err, queries.ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare(hash[:], stored.SecretHash) != 1 || stored.RevokedAt != nil {
		return Principal{}, ErrInvalidToken
	}
	return Principal{TokenID: stored.ID, Name: stored.Name, Scopes: stored.Scopes, UserID: stored.UserID}, nil
}

func (v *Verifier) stored(ctx context.Context, lookup string) (queries.Token, error) {
	now := time.Now()
	v.mu.Lock()
	c, hit := v.cache[lookup]
	v.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.token, nil
	}
	t, err := v.store.TokenByLookup(queries.Uncounted(ctx), lookup)
	if err != nil || v.ttl <= 0 {
		return t, err
	}
	v.mu.Lock()
	if len(v.cache) >= maxCached {
		clear(v.cache)
	}
	v.cache[lookup] = cached{token: t, expires: now.Add(v.ttl)}
	v.mu.Unlock()
	return t, nil
}
