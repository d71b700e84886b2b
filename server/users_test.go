package server

import (
	"net/http"
	"slices"
	"testing"

	"canopy/auth"
)

func TestListUsers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	const carol = "c0c00000-0000-4000-8000-000000000003"
	var records []map[string]any
	for i, user := range []string{bob, alice, bob, carol, bob, alice} {
		records = append(records, rec(user, "t"+itoa(int64(i)), "2024-11-0"+itoa(int64(i+1))+"T08:00:00Z"))
	}
	postArticles(t, ts, ts.token(auth.ScopeArticlesWrite), records)
	if _, err := ts.db.Pool.Exec(t.Context(), `UPDATE articles SET is_read = true WHERE to_user_id = $1 AND title = 't0'`, bob); err != nil {
		t.Fatal(err)
	}
	type listing struct {
		Users []userJSON `json:"users"`
	}
	reader := ts.token(auth.ScopeArticlesRead)

	t.Run("most articles first", func(t *testing.T) {
		r := ts.do("GET", "/api/v1/users", nil, bearer(reader)...)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", r.StatusCode, r.Body)
		}
		r.wantQueries(t, 1)
		var got listing
		r.decode(t, &got)
		want := []userJSON{{bob, 3, 2}, {alice, 2, 2}, {carol, 1, 1}}
		if !slices.Equal(got.Users, want) {
			t.Errorf("users %+v, want %+v", got.Users, want)
		}
	})
	t.Run("limit", func(t *testing.T) {
		var got listing
		ts.do("GET", "/api/v1/users?limit=2", nil, bearer(reader)...).decode(t, &got)
		if len(got.Users) != 2 || got.Users[0].UserID != bob {
			t.Errorf("limit=2: %+v", got.Users)
		}
	})
	t.Run("token bound to a user sees only that user", func(t *testing.T) {
		var got listing
		ts.do("GET", "/api/v1/users", nil, bearer(ts.userToken(carol, auth.ScopeArticlesRead))...).decode(t, &got)
		if len(got.Users) != 1 || got.Users[0].UserID != carol {
			t.Errorf("bound token: %+v", got.Users)
		}
	})
	for _, tc := range []struct {
		name   string
		query  string
		token  string
		status int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"wrong scope", "", ts.token(auth.ScopeTreesWrite), http.StatusForbidden},
		{"limit not a number", "?limit=x", reader, http.StatusBadRequest},
		{"limit zero", "?limit=0", reader, http.StatusUnprocessableEntity},
		{"limit too large", "?limit=1001", reader, http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.token != "" {
				headers = bearer(tc.token)
			}
			r := ts.do("GET", "/api/v1/users"+tc.query, nil, headers...)
			if r.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", r.StatusCode, tc.status, r.Body)
			}
			r.problem(t)
		})
	}
}
