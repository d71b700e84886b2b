// Prints, as shell assignments, the demo ids the contract run's requests use,
// read from a live canopy with the demo data: node demo-ids.js BASE ADMIN_TOKEN.
// It also issues the narrow token bound to the user with the most articles.
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
    PATIENT_UID: patients[0].uid,
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
