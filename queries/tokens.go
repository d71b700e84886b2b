package queries

import (
	"context"
	"time"
)

// Token is a stored bearer token: its secret's hash, never the secret.
type Token struct {
	ID         int64
	Lookup     string
	SecretHash []byte
	Name       string
	Scopes     []string
	UserID     string // empty when the token is not bound to a user
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

const tokenColumns = `id, lookup, secret_hash, name, scopes, coalesce(user_id::text, ''), created_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.Lookup, &t.SecretHash, &t.Name, &t.Scopes, &t.UserID, &t.CreatedAt, &t.RevokedAt)
	return t, translate(err)
}

const tokenCreateSQL = `
INSERT INTO api_tokens (lookup, secret_hash, name, scopes, user_id)
VALUES ($1, $2, $3, $4, nullif($5, '')::uuid)
RETURNING ` + tokenColumns

// CreateToken stores a token; t.ID and t.CreatedAt are set by the database.
func (s *Store) CreateToken(ctx context.Context, t Token) (Token, error) {
	return scanToken(s.db.QueryRow(ctx, tokenCreateSQL, t.Lookup, t.SecretHash, t.Name, t.Scopes, t.UserID))
}

const tokenByLookupSQL = `SELECT ` + tokenColumns + ` FROM api_tokens WHERE lookup = $1`

// TokenByLookup returns the token with that public lookup part, revoked or
// not, or ErrNotFound.
func (s *Store) TokenByLookup(ctx context.Context, lookup string) (Token, error) {
	return scanToken(s.db.QueryRow(ctx, tokenByLookupSQL, lookup))
}

const tokenListSQL = `SELECT ` + tokenColumns + ` FROM api_tokens ORDER BY id`

// Tokens lists every token, revoked ones included, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.Query(ctx, tokenListSQL)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, translate(rows.Err())
}

const tokenRevokeSQL = `
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1
RETURNING ` + tokenColumns

// RevokeToken marks a token revoked (revoking twice keeps the first time) and
// returns it, or ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64) (Token, error) {
	return scanToken(s.db.QueryRow(ctx, tokenRevokeSQL, id))
}
