package server

import (
	"strings"

	"github.com/gin-gonic/gin"

	"canopy/rules"
)

// Every listing pages with limit: 1 to pageMaxLimit rows, pageDefaultLimit
// when the parameter is absent.
const (
	pageDefaultLimit = 100
	pageMaxLimit     = 1000
)

// pageLimit parses a listing's limit parameter.
func pageLimit(c *gin.Context) (int, error) {
	limit, err := queryInt(c, "limit", 1, pageMaxLimit)
	if err != nil || limit == nil {
		return pageDefaultLimit, err
	}
	return *limit, nil
}

// pathID parses a positive integer id from the path, in plain decimal
// digits (not "+5" or " 5": one resource, one path).
func pathID(c *gin.Context, name string) (int64, error) {
	raw := c.Param(name)
	id, err := rules.ParseInt(raw)
	if err != nil {
		return 0, badRequest("%s %q is not an integer id", name, raw)
	}
	if id < 1 {
		return 0, notFound("no resource with %s %d", name, id)
	}
	return id, nil
}

// pathUUID parses a UUID from the path, in lower case: 400 when it is not one.
func pathUUID(c *gin.Context, name string) (string, error) {
	raw := c.Param(name)
	if !rules.ValidUUID(raw) {
		return "", badRequest("%s %q is not a UUID", name, raw)
	}
	return strings.ToLower(raw), nil
}

// queryInteger parses an optional integer query parameter in plain decimal
// digits, as rules.ParseInt reads them: nil when absent, 400 when it does
// not parse.
func queryInteger(c *gin.Context, name string) (*int64, error) {
	raw, ok := c.GetQuery(name)
	if !ok {
		return nil, nil
	}
	v, err := rules.ParseInt(raw)
	if err != nil {
		return nil, badRequest("%s %q is not an integer", name, raw)
	}
	return &v, nil
}

// queryInt64 parses an optional integer query parameter of at least min:
// 422 when it is out of range.
func queryInt64(c *gin.Context, name string, min int64) (*int64, error) {
	v, err := queryInteger(c, name)
	if err != nil || v == nil {
		return nil, err
	}
	if *v < min {
		return nil, invalid(name, "must be at least %d", min)
	}
	return v, nil
}

// queryInt parses an optional integer query parameter within [min, max]:
// 422 when it is out of range.
func queryInt(c *gin.Context, name string, min, max int) (*int, error) {
	v, err := queryInteger(c, name)
	if err != nil || v == nil {
		return nil, err
	}
	if *v < int64(min) || *v > int64(max) {
		return nil, invalid(name, "%v", rules.IntRange(int64(min), int64(max)))
	}
	n := int(*v)
	return &n, nil
}
