/**
 * A minimal schema kit for the OCI/Docker schemas in schemas.ts. It replaces zod, whose import alone cost ~60 ms
 * on every CLI command (node itself starts in ~70 ms): this file loads in well under a millisecond.
 *
 * It has exactly what schemas.ts needs and keeps zod's observable behaviour for it: `safeParse` returns
 * `{ success: true, data }` or `{ success: false, error: { issues } }`; every issue is collected (object fields in
 * shape order, arrays by index, nested paths prefixed), with zod's codes (`invalid_type` for a wrong or missing
 * value, read by parse.ts) and zod's default messages ("Invalid input: expected string, received number").
 * Differences: nothing is copied (`data` is the input itself, unknown keys untouched) and types are declared, not
 * inferred (schemas.ts writes the interfaces by hand).
 */

export type IssueCode =
  | "invalid_type"
  | "invalid_value"
  | "invalid_format"
  | "too_small"
  | "too_big"
  | "custom";

export interface Issue {
  path: PropertyKey[];
  message: string;
  code: IssueCode;
}

export type SafeParseResult<T> = { success: true; data: T } | { success: false; error: { issues: Issue[] } };

export interface Schema<T = unknown> {
  /** Appends the problems of `value`, found at `path`, to `issues` (`path` is restored before returning). */
  check(value: unknown, path: PropertyKey[], issues: Issue[]): void;
  safeParse(value: unknown): SafeParseResult<T>;
  /** The same schema, also accepting `undefined` (an absent field). */
  optional(): Schema<T | undefined>;
}

function schema<T>(check: Schema<T>["check"]): Schema<T> {
  return {
    check,
    safeParse(value) {
      const issues: Issue[] = [];
      check(value, [], issues);
      return issues.length === 0
        ? { success: true, data: value as T }
        : { success: false, error: { issues } };
    },
    optional() {
      return schema<T | undefined>((v, path, issues) => {
        if (v !== undefined) check(v, path, issues);
      });
    },
  };
}

/** zod's name for the type of `v` in "received ..." (its `util.parsedType`, finite-number aware). */
function typeName(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? "number" : String(v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object" && Object.getPrototypeOf(v) !== Object.prototype) {
    const ctor = (v as { constructor?: unknown }).constructor;
    if (typeof ctor === "function" && ctor.name !== "") return ctor.name;
  }
  return typeof v;
}

function wrongType(expected: string, v: unknown, path: PropertyKey[], issues: Issue[]): void {
  issues.push({
    path: [...path],
    code: "invalid_type",
    message: `Invalid input: expected ${expected}, received ${typeName(v)}`,
  });
}

/** A string; `test` returns a message when the string is not acceptable (issue code `custom`, as zod's refine). */
export function string(test?: (s: string) => string | undefined): Schema<string> {
  return schema((v, path, issues) => {
    if (typeof v !== "string") return wrongType("string", v, path, issues);
    const message = test?.(v);
    if (message !== undefined) issues.push({ path: [...path], code: "custom", message });
  });
}

/** A string matching `re`, else `message` (issue code `invalid_format`, as zod's `.regex`). */
export function pattern(re: RegExp, message: string): Schema<string> {
  return schema((v, path, issues) => {
    if (typeof v !== "string") return wrongType("string", v, path, issues);
    re.lastIndex = 0;
    if (!re.test(v)) issues.push({ path: [...path], code: "invalid_format", message });
  });
}

export interface NumberRules {
  /** Require a safe integer, else this message (zod's `.int()`: a fraction stops there, an unsafe one does not). */
  int?: string;
  /** Require at least `min[0]`, else the message `min[1]` (zod's `.min()`). */
  min?: readonly [number, string];
}

/** A finite number (NaN and ±Infinity are refused, as by zod). */
export function number(rules: NumberRules = {}): Schema<number> {
  return schema((v, path, issues) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return wrongType("number", v, path, issues);
    if (rules.int !== undefined) {
      const message = rules.int;
      if (!Number.isInteger(v)) {
        issues.push({ path: [...path], code: "invalid_type", message });
        return;
      }
      if (v > Number.MAX_SAFE_INTEGER) issues.push({ path: [...path], code: "too_big", message });
      if (v < Number.MIN_SAFE_INTEGER) issues.push({ path: [...path], code: "too_small", message });
    }
    if (rules.min !== undefined && v < rules.min[0]) {
      issues.push({ path: [...path], code: "too_small", message: rules.min[1] });
    }
  });
}

export function boolean(): Schema<boolean> {
  return schema((v, path, issues) => {
    if (typeof v !== "boolean") wrongType("boolean", v, path, issues);
  });
}

/** Exactly `value`, else `message` (issue code `invalid_value`, also when the value is missing, as in zod). */
export function literal<T extends string | number | boolean>(value: T, message: string): Schema<T> {
  return schema((v, path, issues) => {
    if (v !== value) issues.push({ path: [...path], code: "invalid_value", message });
  });
}

/** An array whose every element (holes read as `undefined`) matches `of`. */
export function array<T>(of: Schema<T>): Schema<T[]> {
  return schema((v, path, issues) => {
    if (!Array.isArray(v)) return wrongType("array", v, path, issues);
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      of.check(v[i], path, issues);
      path.pop();
    }
  });
}

/**
 * A plain object (prototype `Object.prototype` or `null`, as JSON.parse makes) whose own enumerable string-keyed
 * values all match `of`. Unlike zod, a `"__proto__"` key from JSON is checked like any other: nothing is copied,
 * so it stays in `data`, and it must have the promised type.
 */
export function record<T>(of: Schema<T>): Schema<Record<string, T>> {
  return schema((v, path, issues) => {
    const proto = typeof v === "object" && v !== null ? Object.getPrototypeOf(v) : undefined;
    if (Array.isArray(v) || (proto !== Object.prototype && proto !== null)) {
      return wrongType("record", v, path, issues);
    }
    for (const key of Object.keys(v as object)) {
      path.push(key);
      of.check((v as Record<string, unknown>)[key], path, issues);
      path.pop();
    }
  });
}

/**
 * A non-null, non-array object whose fields in `shape` match (checked in shape order; an absent field is
 * `undefined`). Other fields are kept untouched. `T` is the declared type of a valid value (not inferred).
 */
export function looseObject<T extends object = Record<string, unknown>>(
  shape: Record<string, Schema<unknown>>,
): Schema<T> {
  const fields = Object.entries(shape);
  return schema((v, path, issues) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return wrongType("object", v, path, issues);
    for (const [key, field] of fields) {
      path.push(key);
      field.check((v as Record<string, unknown>)[key], path, issues);
      path.pop();
    }
  });
}
