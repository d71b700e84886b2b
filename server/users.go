package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type userJSON struct {
	UserID   string `json:"user_id"`
	Articles int    `json:"articles"`
	Unread   int    `json:"unread"`
}

// listUsers serves the users that received articles, most articles first,
// from one statement: the front end's user picker. A token bound to a user
// sees only that user, as it may read only that user's articles.
func (s *Server) listUsers(c *gin.Context) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	users, err := s.store.UsersByArticles(c.Request.Context(), limit, principalOf(c).UserID)
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = userJSON{UserID: u.UserID, Articles: u.Articles, Unread: u.Unread}
	}
	c.JSON(http.StatusOK, gin.H{"users": out})
	return nil
}
