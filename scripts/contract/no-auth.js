// Copies a Postman collection with every request sent without a token:
// node no-auth.js IN OUT.
const fs = require("fs");
const [src, dst] = process.argv.slice(2);
const c = JSON.parse(fs.readFileSync(src, "utf8"));
const strip = (item) => {
  if (item.request) delete item.request.auth;
  delete item.auth;
  (item.item || []).forEach(strip);
};
strip(c);
c.auth = { type: "noauth" };
fs.writeFileSync(dst, JSON.stringify(c));
