import assert from "node:assert/strict";
import { test } from "node:test";
import { parseReference } from "../reference/index.ts";
import { familiarRepository } from "./images.ts";

test("familiarRepository drops the tag and digest but keeps a registry port", () => {
  const cases: [string, string][] = [
    ["alpine", "alpine"],
    ["docker.io/library/alpine:3.20", "alpine"],
    ["user/app:1", "user/app"],
    ["localhost:5000/x:y", "localhost:5000/x"],
    ["localhost:5000/x", "localhost:5000/x"],
    [`example.com:443/a/b:t@sha256:${"a".repeat(64)}`, "example.com:443/a/b"],
  ];
  for (const [input, want] of cases) assert.equal(familiarRepository(parseReference(input)), want, input);
});
