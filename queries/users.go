package queries

import "context"

// UserArticles is a user known by the articles they received: how many, and
// how many of them are unread.
type UserArticles struct {
	UserID   string
	Articles int
	Unread   int
}

// usersByArticlesSQL counts every user's articles in one pass over the
// table: there is no users table, so the users are the distinct to_user_id
// values. It reads the whole table (is_read is not in any index), which is
// fine for a picker but not for a hot path. $2 (when not null) restricts the
// list to one user, for a token bound to that user.
const usersByArticlesSQL = `
SELECT a.to_user_id, count(*), count(*) FILTER (WHERE NOT a.is_read)
FROM articles a
WHERE $2::uuid IS NULL OR a.to_user_id = $2::uuid
GROUP BY a.to_user_id
ORDER BY count(*) DESC, a.to_user_id
LIMIT $1`

// UsersByArticles lists up to limit users, most articles first (then by
// id), in one statement. A non-empty onlyUserID lists that user alone.
func (s *Store) UsersByArticles(ctx context.Context, limit int, onlyUserID string) ([]UserArticles, error) {
	var only *string
	if onlyUserID != "" {
		only = &onlyUserID
	}
	rows, err := s.db.Query(ctx, usersByArticlesSQL, limit, only)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	users := []UserArticles{}
	for rows.Next() {
		var u UserArticles
		if err := rows.Scan(&u.UserID, &u.Articles, &u.Unread); err != nil {
			return nil, translate(err)
		}
		users = append(users, u)
	}
	return users, translate(rows.Err())
}
