package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/auth"
	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

type tokenJSON struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	UserID    *string    `json:"user_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// Token is the bearer token itself, present only in the answer that creates it.
	Token string `json:"token,omitempty"`
}

func toTokenJSON(t queries.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
	if t.UserID != "" {
		out.UserID = &t.UserID
	}
	return out
}

// createToken issues a token; its text is in this answer and nowhere else.
func (s *Server) createToken(c *gin.Context) error {
	var req struct {
		Name   string                 `json:"name"`
		Scopes []string               `json:"scopes"`
		UserID optional.Field[string] `json:"user_id"`
	}
	if err := decodeJSON(c.Request, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	nameErr := rules.Text(req.Name, rules.NameMax)
	switch {
	case nameErr != nil:
		return invalid("name", "%v", nameErr)
	// Fail closed: a user_id that is sent but empty or null would make a
	// token for every user's articles out of one meant for one user.
	case req.UserID.Set && (req.UserID.Null || !rules.ValidUUID(req.UserID.Value)):
		return invalid("user_id", "must be a UUID; leave user_id out for a token not bound to a user")
	}
	if err := auth.CheckScopes(req.Scopes, req.UserID.Value); err != nil {
		return invalid("scopes", "%v", err)
	}
	token, row, err := auth.NewToken(req.Name, req.Scopes, strings.ToLower(req.UserID.Value))
	if err != nil {
		return err
	}
	stored, err := s.store.CreateToken(c.Request.Context(), row)
	if err != nil {
		return err
	}
	out := toTokenJSON(stored)
	out.Token = token
	c.Header("Location", "/api/v1/tokens/"+strconv.FormatInt(stored.ID, 10))
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *Server) listTokens(c *gin.Context) error {
	tokens, err := s.store.Tokens(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = toTokenJSON(t)
	}
	c.JSON(http.StatusOK, gin.H{"tokens": out})
	return nil
}

// revokeToken revokes a token for good; a cached copy may go on working for
// up to the token cache TTL.
func (s *Server) revokeToken(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.RevokeToken(c.Request.Context(), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
