// Prints, as shell assignments, the demo ids the contract run's requests use,
// read from a live canopy with the demo data: node demo-ids.js BASE ADMIN_TOKEN.
// It also issues the narrow token bound to the user with the most articles, and
// raises two alarms on a demo patient under rules of its own: one left open,
// for the run to acknowledge, and one resolved, which refuses that (409).
const [base, admin] = process.argv.slice(2);

async function call(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function* nodes(roots) {
  for (const n of roots) {
    yield n;
    yield* nodes(n.children);
  }
}

(async () => {
  const { users } = await call("GET", "/api/v1/users?limit=2");
  const [user, other] = users;
  let year, month, articleId;
  for (let back = 0; back < 36 && !articleId; back++) {
    const d = new Date(Date.UTC(2026, 0 - back, 1));
    const page = await call("GET", `/api/v1/users/${user.user_id}/articles?year=${d.getUTCFullYear()}&month=${d.getUTCMonth() + 1}&limit=1`);
    if (page.articles.length) [year, month, articleId] = [d.getUTCFullYear(), d.getUTCMonth() + 1, page.articles[0].id];
  }
  const categories = await call("GET", "/api/v1/categories/tree");
  const departments = await call("GET", "/api/v1/departments/tree");
  const ward = [...nodes(departments.roots)].find((n) => n.kind === "ward" && n.occupied > 0);
  const { patients } = await call("GET", `/api/v1/wards/${ward.id}/patients`);
  const uid = patients[0].uid;
  const predict = (target, probability, predicted_at) =>
    call("POST", "/api/v1/predictions/bulk", [{ patient_uid: uid, model: "contract", target, predicted_at, horizon_hours: 6, probability }]);
  for (const target of ["contract-open", "contract-resolved"]) {
    await call("PUT", `/api/v1/alarm-rules/${target}`, { open_at: 0.5, clear_below: 0.2 });
    await predict(target, 0.9, "2025-12-31T12:00:00Z");
  }
  await predict("contract-resolved", 0.1, "2025-12-31T13:00:00Z");
  const { alarms } = await call("GET", `/api/v1/alarms?patient_uid=${encodeURIComponent(uid)}`);
  const alarm = (target, state) => (alarms.find((a) => a.target === target && a.state === state) || {}).id;
  const bound = await call("POST", "/api/v1/tokens", { name: "contract bound", scopes: ["articles:read", "articles:write"], user_id: user.user_id });
  const ids = {
    USER_ID: user.user_id,
    OTHER_USER_ID: other.user_id,
    YEAR: year,
    MONTH: month,
    ARTICLE_ID: articleId,
    CATEGORY_ID: categories.roots[0].id,
    DEPARTMENT_ID: ward.parent_id,
    WARD_ID: ward.id,
    PATIENT_UID: uid,
    ALARM_ID: alarm("contract-open", "open"),
    RESOLVED_ALARM_ID: alarm("contract-resolved", "resolved"),
    HOUR_FROM: "2025-12-31T00:00:00Z",
    HOUR_TO: "2026-01-01T00:00:00Z",
    BOUND_TOKEN: bound.token,
  };
  for (const [k, v] of Object.entries(ids)) {
    if (v === undefined) throw new Error(`demo-ids: no ${k} in the demo data`);
    console.log(`CONTRACT_${k}='${v}'`);
  }
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
