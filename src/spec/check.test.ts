import assert from "node:assert/strict";
import { test } from "node:test";
import {
  array,
  boolean,
  type Issue,
  literal,
  looseObject,
  number,
  pattern,
  record,
  type Schema,
  string,
} from "./check.ts";

/** The issues of a value the schema must refuse, as `[path, code, message]`. */
function issues(s: Schema<unknown>, v: unknown): [PropertyKey[], Issue["code"], string][] {
  const r = s.safeParse(v);
  assert.equal(r.success, false, `expected ${JSON.stringify(v)} to be refused`);
  return r.success ? [] : r.error.issues.map((i) => [i.path, i.code, i.message]);
}

function accepts(s: Schema<unknown>, v: unknown): void {
  const r = s.safeParse(v);
  assert.ok(r.success, r.success ? "" : JSON.stringify(r.error.issues));
  assert.equal(r.data, v, "data is the input itself");
}

const wrong = (expected: string, received: string) =>
  `Invalid input: expected ${expected}, received ${received}`;

test("primitives: wrong types are invalid_type with zod's message", () => {
  accepts(string(), "");
  accepts(number(), -2.5);
  accepts(boolean(), false);
  assert.deepEqual(issues(string(), 3), [[[], "invalid_type", wrong("string", "number")]]);
  assert.deepEqual(issues(string(), null), [[[], "invalid_type", wrong("string", "null")]]);
  assert.deepEqual(issues(string(), ["a"]), [[[], "invalid_type", wrong("string", "array")]]);
  assert.deepEqual(issues(number(), "1"), [[[], "invalid_type", wrong("number", "string")]]);
  assert.deepEqual(issues(number(), Number.NaN), [[[], "invalid_type", wrong("number", "NaN")]]);
  assert.deepEqual(issues(number(), -Infinity), [[[], "invalid_type", wrong("number", "-Infinity")]]);
  assert.deepEqual(issues(boolean(), "true"), [[[], "invalid_type", wrong("boolean", "string")]]);
  assert.deepEqual(issues(boolean(), undefined), [[[], "invalid_type", wrong("boolean", "undefined")]]);
  accepts(looseObject({}), new Map()); // any non-array object is an object, as in zod
  assert.deepEqual(issues(record(string()), new Map()), [[[], "invalid_type", wrong("record", "Map")]]);
});

test("string checks: a failing test or pattern gives its message; only strings are tested", () => {
  const even = string((s) => (s.length % 2 === 0 ? undefined : "odd length"));
  accepts(even, "ab");
  assert.deepEqual(issues(even, "abc"), [[[], "custom", "odd length"]]);
  assert.deepEqual(issues(even, 1), [[[], "invalid_type", wrong("string", "number")]]);
  const hex = pattern(/^[0-9a-f]+$/g, "not hex");
  accepts(hex, "00");
  accepts(hex, "00"); // a global regex is reset, not continued from lastIndex
  assert.deepEqual(issues(hex, "0x"), [[[], "invalid_format", "not hex"]]);
});

test("number rules: int (safe range) and min, as zod's .int() and .min()", () => {
  const size = number({ int: "not an int", min: [0, "negative"] });
  accepts(size, 0);
  accepts(size, Number.MAX_SAFE_INTEGER);
  assert.deepEqual(issues(size, 1.5), [[[], "invalid_type", "not an int"]]);
  assert.deepEqual(issues(size, -1.5), [[[], "invalid_type", "not an int"]], "a fraction stops there");
  assert.deepEqual(issues(size, -1), [[[], "too_small", "negative"]]);
  assert.deepEqual(issues(size, 2 ** 53), [[[], "too_big", "not an int"]]);
  assert.deepEqual(issues(size, -(2 ** 60)), [
    [[], "too_small", "not an int"],
    [[], "too_small", "negative"],
  ]);
});

test("literal: anything else, missing included, is invalid_value with the message", () => {
  const two = literal(2, "must be 2");
  accepts(two, 2);
  for (const v of ["2", undefined, null, 2.5])
    assert.deepEqual(issues(two, v), [[[], "invalid_value", "must be 2"]]);
});

test("optional accepts undefined only; a missing required field is invalid_type received undefined", () => {
  const s = looseObject({ req: string(), opt: string().optional() });
  accepts(s, { req: "a" });
  accepts(s, { req: "a", opt: undefined });
  accepts(s, { req: "a", opt: "b" });
  assert.deepEqual(issues(s, { opt: "b" }), [[["req"], "invalid_type", wrong("string", "undefined")]]);
  assert.deepEqual(issues(s, { req: "a", opt: null }), [[["opt"], "invalid_type", wrong("string", "null")]]);
  accepts(string().optional(), undefined);
  assert.deepEqual(issues(string(), undefined), [[[], "invalid_type", wrong("string", "undefined")]]);
});

test("looseObject keeps unknown keys untouched and returns the input itself", () => {
  const s = looseObject({ a: number() });
  const nested = { deep: [1, { x: null }] };
  const v = { a: 1, extra: "x", nested, [Symbol("s")]: 1 };
  accepts(s, v);
  const r = s.safeParse(v);
  assert.ok(r.success);
  assert.equal((r.data as typeof v).nested, nested);
  assert.deepEqual(Object.keys(r.data as object), ["a", "extra", "nested"]);
  accepts(s, Object.assign(Object.create(null), { a: 1 }));
  assert.deepEqual(issues(s, []), [[[], "invalid_type", wrong("object", "array")]]);
  assert.deepEqual(issues(s, null), [[[], "invalid_type", wrong("object", "null")]]);
});

test("all issues are collected: fields in shape order, arrays by index, with nested paths", () => {
  const s = looseObject({
    name: string(),
    tags: array(string()),
    meta: looseObject({ size: number({ min: [0, "negative"] }), labels: record(string()).optional() }),
  });
  // Input key order differs from the shape: issues follow the shape.
  const tags: unknown[] = ["x", 2];
  tags[3] = "y"; // tags[2] is a hole
  tags[4] = true;
  const v = { meta: { labels: { "a.b": 1, c: "ok", d: null }, size: -1 }, tags, name: 7 };
  assert.deepEqual(issues(s, v), [
    [["name"], "invalid_type", wrong("string", "number")],
    [["tags", 1], "invalid_type", wrong("string", "number")],
    [["tags", 2], "invalid_type", wrong("string", "undefined")],
    [["tags", 4], "invalid_type", wrong("string", "boolean")],
    [["meta", "size"], "too_small", "negative"],
    [["meta", "labels", "a.b"], "invalid_type", wrong("string", "number")],
    [["meta", "labels", "d"], "invalid_type", wrong("string", "null")],
  ]);
  // A wrong container type is one issue; its contents are not looked at.
  assert.deepEqual(issues(s, { name: "n", tags: "x", meta: [] }), [
    [["tags"], "invalid_type", wrong("array", "string")],
    [["meta"], "invalid_type", wrong("object", "array")],
  ]);
});

test("record: plain objects only; every own key is checked, __proto__ from JSON included", () => {
  const s = record(string());
  accepts(s, {});
  accepts(s, Object.assign(Object.create(null), { a: "b" }));
  assert.deepEqual(issues(s, []), [[[], "invalid_type", wrong("record", "array")]]);
  assert.deepEqual(issues(s, "x"), [[[], "invalid_type", wrong("record", "string")]]);
  assert.deepEqual(issues(s, JSON.parse('{"a":"b","__proto__":1}')), [
    [["__proto__"], "invalid_type", wrong("string", "number")],
  ]);
});

test("issue paths are independent copies", () => {
  const s = array(looseObject({ a: string() }));
  const r = s.safeParse([{ a: 1 }, { a: 2 }]);
  assert.ok(!r.success);
  assert.deepEqual(
    r.error.issues.map((i) => i.path),
    [
      [0, "a"],
      [1, "a"],
    ],
  );
  const again = s.safeParse([{}]);
  assert.ok(!again.success);
  assert.deepEqual(again.error.issues[0]?.path, [0, "a"]);
});
