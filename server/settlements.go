package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

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

// settlementResponse is the body of GET /settlements.
type settlementResponse struct {
	Year     int                     `json:"year"`
	Month    int                     `json:"month"`
	TZ       string                  `json:"tz"`
	Teachers []teacherSettlementJSON `json:"teachers"`
	Totals   amountsJSON             `json:"totals"`
}

func settlementETag(version int64) string { return fmt.Sprintf(`"settlements-v%d"`, version) }

// getSettlement serves the month's settlement of every teacher, and the
// totals: one statement reads the settlement version, and one more settles
// the month unless its body rendered at that version is in memory. The body
// is cached under the version the settling statement read in its own
// snapshot, which may be newer than the one read first, never older.
func (s *Server) getSettlement(c *gin.Context) error {
	month, err := monthQuery(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	version, err := s.store.SettlementVersion(ctx)
	if err != nil {
		return err
	}
	if notModified(c, settlementETag(version)) {
		return nil
	}
	key := settlementKey{version: version, year: month.Year, month: month.Month, zone: month.Zone()}
	if body, ok := s.settlements.get(key); ok {
		s.settlements.grew(key, body, s.writeEncoded(c, http.StatusOK, body))
		return nil
	}
	st, err := s.store.MonthSettlement(ctx, month)
	if err != nil {
		return err
	}
	teachers := make([]teacherSettlementJSON, len(st.Teachers))
	for i, t := range st.Teachers {
		teachers[i] = teacherSettlementJSON{TeacherID: t.TeacherID, TeacherName: t.TeacherName,
			CommissionRate: t.CommissionRate, amountsJSON: toAmountsJSON(t.Amounts)}
	}
	body, err := json.Marshal(settlementResponse{month.Year, int(month.Month), month.Zone(), teachers, toAmountsJSON(st.Totals)})
	if err != nil {
		return err
	}
	encoded := newEncodedBody(body)
	if st.Version != 0 {
		c.Header("ETag", settlementETag(st.Version))
		key.version = st.Version
		s.writeEncoded(c, http.StatusOK, encoded) // the body it adds is counted by put
		s.settlements.put(key, encoded)
		return nil
	}
	s.writeEncoded(c, http.StatusOK, encoded)
	return nil
}

// settlementKey names one rendered settlement. The zone is its name, not its
// offsets: the body says which name was asked for.
type settlementKey struct {
	version int64
	year    int
	month   time.Month
	zone    string
}

func (k settlementKey) scope() (string, int64) { return "settlements", k.version }
