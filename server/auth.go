package server

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"canopy/auth"
)

const principalKey = "principal"

// authenticate reads the bearer token, if any. It returns ok=false and no
// error when the request carries no Authorization header.
func (s *Server) authenticate(c *gin.Context) (p auth.Principal, ok bool, err error) {
	header := c.GetHeader("Authorization")
	if header == "" {
		return auth.Principal{}, false, nil
	}
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, false, auth.ErrInvalidToken
	}
	p, err = s.tokens.Verify(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		return auth.Principal{}, false, err
	}
	c.Set(principalKey, p)
	return p, true, nil
}

// principalOf is the request's authenticated principal; the zero Principal
// when the route did not authenticate.
func principalOf(c *gin.Context) auth.Principal {
	v, _ := c.Get(principalKey)
	p, _ := v.(auth.Principal)
	return p
}

// mayReadArticlesOf refuses a token bound to another user than userID.
func mayReadArticlesOf(c *gin.Context, userID string) error {
	if bound := principalOf(c).UserID; bound != "" && !strings.EqualFold(bound, userID) {
		return forbidden("the token may read only its own user's articles")
	}
	return nil
}

func unauthenticated(c *gin.Context) error {
	c.Header("WWW-Authenticate", `Bearer realm="canopy"`)
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, detail: "this endpoint needs a bearer token (Authorization: Bearer <token>)"}
}

// require lets the request through only with a valid token that holds scope.
func (s *Server) require(scope string) gin.HandlerFunc {
	return s.handle(func(c *gin.Context) error {
		p, ok, err := s.authenticate(c)
		switch {
		case err != nil:
			return err
		case !ok:
			return unauthenticated(c)
		case !p.Has(scope):
			return forbidden("the token lacks the %s scope", scope)
		case scope == auth.ScopeAdmin && p.UserID != "":
			// Tokens and the audit log span every user; a bound admin token
			// (made before such tokens were refused) reaches neither.
			return forbidden("a token bound to a user cannot manage tokens or read the audit log")
		}
		c.Next()
		return nil
	})
}

// readTrees lets tree reads through without a token when public reads are
// on; otherwise any valid token will do.
func (s *Server) readTrees(c *gin.Context) {
	if s.cfg.PublicReads {
		c.Next()
		return
	}
	s.handle(func(c *gin.Context) error {
		_, ok, err := s.authenticate(c)
		switch {
		case err != nil:
			return err
		case !ok:
			return unauthenticated(c)
		}
		c.Next()
		return nil
	})(c)
}
