package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

type wardJSON struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	DepartmentID int64     `json:"department_id"`
	Name         string    `json:"name"`
	Beds         int       `json:"beds"`
	Occupied     int       `json:"occupied"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toWardJSON(w queries.Ward) wardJSON {
	return wardJSON{ID: w.ID, Kind: "ward", DepartmentID: w.DepartmentID, Name: w.Name, Beds: w.Beds,
		Occupied: w.Occupied, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

type wardFields struct {
	DepartmentID optional.Field[int64]  `json:"department_id"`
	Name         optional.Field[string] `json:"name"`
	Beds         optional.Field[int]    `json:"beds"`
}

// check validates the fields present; create requires all of them.
func (f *wardFields) check(create bool) error {
	var errs []queries.FieldError
	bad := func(field, msg string) {
		errs = append(errs, queries.FieldError{Index: -1, Field: field, Message: msg})
	}
	if create {
		for field, set := range map[string]bool{"department_id": f.DepartmentID.Set, "name": f.Name.Set, "beds": f.Beds.Set} {
			if !set {
				bad(field, "is required")
			}
		}
	}
	if f.DepartmentID.Set && (f.DepartmentID.Null || f.DepartmentID.Value < 1) {
		bad("department_id", "must be a positive id")
	}
	if f.Name.Set {
		f.Name.Value = strings.TrimSpace(f.Name.Value)
		if err := rules.Text(f.Name.Value, rules.NameMax); err != nil { // null is "": refused too
			bad("name", err.Error())
		}
	}
	if f.Beds.Set && (f.Beds.Null || rules.Int(int64(f.Beds.Value), 0, rules.BedsMax) != nil) {
		bad("beds", rules.IntRange(0, rules.BedsMax).Error())
	}
	if len(errs) > 0 {
		return &queries.ValidationError{Errors: errs}
	}
	return nil
}

func (s *Server) createWard(c *gin.Context) error {
	var f wardFields
	if err := decodeJSON(c.Request, &f); err != nil {
		return err
	}
	if err := f.check(true); err != nil {
		return err
	}
	w, err := s.store.CreateWard(c.Request.Context(), queries.NewWard{DepartmentID: f.DepartmentID.Value, Name: f.Name.Value, Beds: f.Beds.Value})
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/wards/"+strconv.FormatInt(w.ID, 10))
	c.JSON(http.StatusCreated, toWardJSON(w))
	return nil
}

func (s *Server) getWard(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	w, err := s.store.Ward(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toWardJSON(w))
	return nil
}

func (s *Server) updateWard(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var f wardFields
	if err := decodeJSON(c.Request, &f); err != nil {
		return err
	}
	if err := f.check(false); err != nil {
		return err
	}
	w, err := s.store.UpdateWard(c.Request.Context(), id, queries.WardPatch{Name: f.Name.Ptr(), Beds: f.Beds.Ptr(), DepartmentID: f.DepartmentID.Ptr()})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toWardJSON(w))
	return nil
}

func (s *Server) deleteWard(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteWard(c.Request.Context(), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
