package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"canopy/queries"
)

// amountsJSON is a settlement's money in won.
type amountsJSON struct {
	CourseSales  int64 `json:"course_sales"`
	PackageSales int64 `json:"package_sales"`
	KitSales     int64 `json:"kit_sales"`
	Refunds      int64 `json:"refunds"`
	Gross        int64 `json:"gross"`
	Commission   int64 `json:"commission"`
	Payout       int64 `json:"payout"`
}

func toAmountsJSON(a queries.Amounts) amountsJSON {
	return amountsJSON{CourseSales: a.CourseSales, PackageSales: a.PackageSales, KitSales: a.KitSales,
		Refunds: a.Refunds, Gross: a.Gross, Commission: a.Commission, Payout: a.Payout}
}

type teacherSettlementJSON struct {
	TeacherID      int64   `json:"teacher_id"`
	TeacherName    string  `json:"teacher_name"`
	CommissionRate float64 `json:"commission_rate"`
	amountsJSON
}

// getSettlement serves the month's settlement of every teacher, and the
// totals, from one statement.
func (s *Server) getSettlement(c *gin.Context) error {
	month, err := monthQuery(c)
	if err != nil {
		return err
	}
	st, err := s.store.MonthSettlement(c.Request.Context(), month)
	if err != nil {
		return err
	}
	teachers := make([]teacherSettlementJSON, len(st.Teachers))
	for i, t := range st.Teachers {
		teachers[i] = teacherSettlementJSON{TeacherID: t.TeacherID, TeacherName: t.TeacherName,
			CommissionRate: t.CommissionRate, amountsJSON: toAmountsJSON(t.Amounts)}
	}
	c.JSON(http.StatusOK, struct {
		Year     int                     `json:"year"`
		Month    int                     `json:"month"`
		TZ       string                  `json:"tz"`
		Teachers []teacherSettlementJSON `json:"teachers"`
		Totals   amountsJSON             `json:"totals"`
	}{month.Year, int(month.Month), month.Zone(), teachers, toAmountsJSON(st.Totals)})
	return nil
}
