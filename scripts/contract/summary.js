// Sums up a contract run from newman's JSON reports and specproxy's exchange
// log in DIR: node summary.js DIR SECONDS. Prints the operations, requests and
// failures, each failure with its request. Exits 1 on any failure.
const fs = require("fs");
const path = require("path");
const [dir, seconds] = process.argv.slice(2);

const failures = [];
let requests = 0, assertions = 0;
const operations = new Set();
for (const f of fs.readdirSync(dir).filter((f) => /^newman-.*\.json$/.test(f)).sort()) {
  const who = f.replace(/^newman-\d+-|\.json$/g, "");
  const { run } = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  requests += run.stats.requests.total;
  assertions += run.stats.assertions.total;
  const byId = new Map(run.executions.map((e) => [e.cursor && e.cursor.ref, e]));
  for (const x of run.failures) {
    const e = byId.get(x.cursor && x.cursor.ref) || {};
    const req = e.request || {};
    const url = req.url ? "/" + (req.url.path || []).join("/") + (req.url.query && req.url.query.length ? "?" + req.url.query.map((q) => `${q.key}=${q.value}`).join("&") : "") : "?";
    const body = req.body && req.body.raw ? " " + req.body.raw.replace(/\s+/g, " ").slice(0, 300) : "";
    const line = `${who}: ${req.method || "?"} ${url}${body} → ${e.response ? e.response.code : "no answer"}: ${x.error.test || x.error.name}: ${x.error.message}`;
    failures.push({ source: "newman", line, key: `${who} ${req.method} ${url.split("?")[0]} ${x.error.test || x.error.name}` });
  }
}
let exchanges = 0;
const logPath = path.join(dir, "exchanges.jsonl");
if (fs.existsSync(logPath)) {
  for (const l of fs.readFileSync(logPath, "utf8").split("\n").filter(Boolean)) {
    const x = JSON.parse(l);
    exchanges++;
    if (x.operation) operations.add(x.operation);
    if (x.finding) {
      const f = x.finding;
      const line = `specproxy [${f.kind}]: ${f.request}${f.body ? " " + f.body.replace(/\s+/g, " ") : ""} → ${f.status}: ${f.detail}${f.response ? " — answer: " + f.response.replace(/\s+/g, " ") : ""}`;
      failures.push({ source: "specproxy", line, key: `${f.kind} ${f.request.split("?")[0]} ${f.status}` });
    }
  }
}
const probes = path.join(dir, "probes.txt");
if (fs.existsSync(probes)) {
  for (const line of fs.readFileSync(probes, "utf8").split("\n").filter(Boolean)) failures.push({ source: "probe", line, key: line.replace(/: \{.*$/, "") });
}
console.log(`contract: ${operations.size} operations, ${requests} requests (${exchanges} checked by specproxy), ${assertions} newman assertions, ${failures.length} failures, in ${seconds} s`);
// The same failure in every round is listed once, with its count and its first request.
const seen = new Map();
for (const f of failures) {
  const first = seen.get(f.key);
  if (first) first.count++;
  else seen.set(f.key, { ...f, count: 1 });
}
for (const f of seen.values()) console.log(` ${f.count > 1 ? ` (×${f.count})` : ""} ${f.line}`);
process.exit(failures.length ? 1 : 0);
