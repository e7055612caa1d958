// Evaluates a batch of JSONata expressions with the reference implementation (npm `jsonata`,
// pinned in package.json at the version AWS Step Functions documents), in one Node process.
//
// stdin:  {"now": <epoch ms or null>, "cases": [{"expression": "...", "input": <json>, "bindings": {...}}]}
// stdout: {"jsonata": "<version>", "results": [<result>, ...]} in the order of the cases, each
//         {"kind": "value", "value": <json>} | {"kind": "undefined"} | {"kind": "function"}
//         | {"kind": "error", "code": "T2001", "message": "..."}
//
// `bindings` are variable names without the `$` ({"states": {...}, "myVar": 1}). With `now`,
// $now() and $millis() return that instant, so time stamps compare. The functions Step Functions
// adds to JSONata are defined here as AWS documents them: $partition, $range, $hash, $parse;
// $uuid and $random(seed) are random, so here they return fixed values (the Python side of the
// conformance check fixes them the same way). $eval is not available on AWS.
"use strict";

const crypto = require("node:crypto");
const jsonata = require("jsonata");
const { version } = require("jsonata/package.json");

const FIXED_UUID = "00000000-0000-4000-8000-000000000000";
const FIXED_RANDOM = 0.5;
const HASH_ALGORITHMS = { "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };

function fail(code, message) {
  const error = new Error(message);
  error.code = code;
  throw error;
}

const stepFunctionsFunctions = {
  partition: (array, size) => {
    if (!Array.isArray(array) || !Number.isInteger(size) || size <= 0) {
      fail("States.QueryEvaluationError", "$partition expects an array and a positive integer");
    }
    const chunks = [];
    for (let i = 0; i < array.length; i += size) chunks.push(array.slice(i, i + size));
    return chunks;
  },
  range: (first, last, step) => {
    if (![first, last, step].every(Number.isInteger) || step === 0) {
      fail("States.QueryEvaluationError", "$range expects integers and a non-zero step");
    }
    const values = [];
    for (let v = first; step > 0 ? v <= last : v >= last; v += step) values.push(v);
    return values;
  },
  hash: (value, algorithm) => {
    const name = HASH_ALGORITHMS[algorithm];
    if (typeof value !== "string" || name === undefined) {
      fail("States.QueryEvaluationError", "$hash expects a string and one of " + Object.keys(HASH_ALGORITHMS));
    }
    return crypto.createHash(name).update(value, "utf8").digest("hex");
  },
  parse: (text) => JSON.parse(text),
  uuid: () => FIXED_UUID,
  random: () => FIXED_RANDOM,
};

function freezeClock(now) {
  // jsonata reads the clock with `new Date()` once per evaluate(); $now/$millis return it.
  const RealDate = Date;
  class FixedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(now);
      else super(...args);
    }
    static now() {
      return now;
    }
  }
  globalThis.Date = FixedDate;
  return () => { globalThis.Date = RealDate; };
}

async function evaluateCase({ expression, input, bindings }) {
  try {
    const compiled = jsonata(expression);
    const result = await compiled.evaluate(input === undefined ? null : input, {
      ...stepFunctionsFunctions,
      ...(bindings || {}),
    });
    if (result === undefined) return { kind: "undefined" };
    if (typeof result === "function" || (result && result._jsonata_lambda)) return { kind: "function" };
    // JSON.parse(JSON.stringify(...)) drops sequence markers and undefined members, as a
    // state's output does; non-finite numbers are written as "Infinity", "-Infinity", "NaN".
    const json = JSON.stringify(result, (key, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
    return { kind: "value", value: JSON.parse(json) };
  } catch (error) {
    return { kind: "error", code: String(error.code || error.name || "Error"), message: String(error.message) };
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const restore = request.now == null ? () => {} : freezeClock(request.now);
  const results = [];
  try {
    for (const c of request.cases) results.push(await evaluateCase(c));
  } finally {
    restore();
  }
  process.stdout.write(JSON.stringify({ jsonata: version, results }));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(1);
});
