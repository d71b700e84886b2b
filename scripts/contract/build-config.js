// Writes the portman configurations of the contract run (make test, make soak)
// from overwrites.json and assign.json: node build-config.js OUTDIR.
//   admin.json:    portman's contract tests on every operation (2xx, content
//                  type, JSON body, response schema, documented headers) with
//                  demo ids, and a fuzz variation of every operation (required
//                  fields dropped, numbers past minimum/maximum, text past
//                  minLength/maxLength) that must be refused with a 4xx problem.
//   identity.json: every operation as a narrow user-bound token or no token
//                  sends it: never a 5xx, and the bound token's refusals (403).
// specproxy, between newman and canopy, checks every exchange of both against
// openapi.yaml.
const fs = require("fs");
const path = require("path");
const out = process.argv[2];
// Numeric demo ids go in as numbers, read from the environment (CONTRACT_WARD_ID
// for {{{wardId}}}): portman's fuzzer parses the bodies, so an unquoted
// Postman variable would not do.
const overwrites = JSON.parse(
  fs.readFileSync(path.join(__dirname, "overwrites.json"), "utf8").replace(/"\{\{\{(\w+)\}\}\}"/g, (_, name) => {
    const v = process.env["CONTRACT_" + name.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase()];
    if (!/^[0-9]+$/.test(v || "")) throw new Error(`build-config: no number for ${name}`);
    return v;
  }),
);
const assign = JSON.parse(fs.readFileSync(path.join(__dirname, "assign.json")));

const on = { enabled: true };
const fuzzAll = { requiredFields: on, minimumNumberFields: on, maximumNumberFields: on, minLengthFields: on, maxLengthFields: on };
const noServerError = `pm.test("[" + pm.info.requestName + "] answered without a server error", function () { pm.expect(pm.response.code).to.be.below(500); });`;
const refused = `pm.test("[" + pm.info.requestName + "] fuzzed request refused with a 4xx", function () { pm.expect(pm.response.code).to.be.within(400, 499); });`;
const status = (code, why) => `pm.test("[" + pm.info.requestName + "] ${why}: ${code}", function () { pm.expect(pm.response.code).to.equal(${code}); });`;

const fuzzVariation = (extra) => ({
  name: "fuzz",
  openApiResponse: "422",
  fuzzing: [{ requestBody: [fuzzAll] }, { requestQueryParams: [fuzzAll] }],
  tests: {
    contractTests: [{ contentType: on, jsonBody: on, schemaValidation: on }],
    extendTests: [{ tests: [refused] }],
  },
  ...extra,
});
const stripTarget = ({ openApiOperation, ...rest }) => rest;
// A fuzz variation keeps the demo ids in the path and body, but not the query
// overwrites: portman would add its fuzzed parameter beside the overwritten one
// (year=2025&year=0), and the server reads the first.
const forFuzz = ({ openApiOperation, overwriteRequestQueryParams, ...rest }) => rest;

const admin = {
  version: 1.0,
  tests: {
    contractTests: [{ openApiOperation: "*::/*", statusSuccess: on, contentType: on, jsonBody: on, schemaValidation: on, headersPresent: on }],
    extendTests: [{ openApiOperation: "*::/*", tests: [noServerError] }],
    variationTests: [
      // Operations with demo ids get the same overwrites in their fuzz variation.
      ...overwrites.map((o) => ({ openApiOperation: o.openApiOperation, variations: [fuzzVariation({ overwrites: [forFuzz(o)] })] })),
      { openApiOperation: "*::/api/v1/*", excludeForOperations: overwrites.map((o) => o.openApiOperation), variations: [fuzzVariation({})] },
    ],
  },
  assignVariables: assign,
  overwrites,
  globals: { stripResponseExamples: true },
};

const otherUser = [{ key: "user_id", value: "{{otherUserId}}" }];
const identity = {
  version: 1.0,
  tests: {
    extendTests: [{ openApiOperation: "*::/*", tests: [noServerError] }],
    variationTests: [
      {
        openApiOperation: "GET::/api/v1/users/{user_id}/articles",
        openApiResponse: "403",
        variations: [{
          name: "another user's month",
          overwrites: [{ ...stripTarget(overwrites.find((o) => o.openApiOperation === "GET::/api/v1/users/{user_id}/articles")), overwriteRequestPathVariables: otherUser }],
          tests: { extendTests: [{ tests: [`if (pm.environment.get("identity") !== "none") { ${status(403, "a bound token reads only its own user's articles")} }`] }] },
        }],
      },
      {
        openApiOperation: "POST::/api/v1/articles/bulk",
        openApiResponse: "403",
        variations: [{
          name: "an article to another user",
          overwrites: [{ overwriteRequestBody: [{ key: ".", overwrite: true, value: [{ to_user_id: "{{otherUserId}}", from_name: "Contract", from_domain: "contract.example", title: "not yours {{$guid}}", created_at: "{{$isoTimestamp}}" }] }] }],
          tests: { extendTests: [{ tests: [`if (pm.environment.get("identity") !== "none") { ${status(403, "a bound token writes only its own user's articles")} }`] }] },
        }],
      },
      {
        openApiOperation: "POST::/api/v1/newsletters",
        openApiResponse: "403",
        variations: [{
          name: "a newsletter",
          overwrites: [stripTarget(overwrites.find((o) => o.openApiOperation === "POST::/api/v1/newsletters"))],
          tests: { extendTests: [{ tests: [`if (pm.environment.get("identity") !== "none") { ${status(403, "a bound token writes no newsletters")} }`] }] },
        }],
      },
    ],
  },
  assignVariables: assign,
  overwrites,
  globals: { stripResponseExamples: true },
};

fs.writeFileSync(path.join(out, "admin.json"), JSON.stringify(admin, null, 2));
fs.writeFileSync(path.join(out, "identity.json"), JSON.stringify(identity, null, 2));
