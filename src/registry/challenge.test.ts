import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { prng } from "../tar/testkit.ts";
import { type Challenge, parseChallenges } from "./challenge.ts";

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Every challenge is a lowercase token scheme with lowercase token parameter names and string values. */
function assertWellFormed(cs: unknown, input: unknown): void {
  const where = `input ${JSON.stringify(input)}`;
  assert.ok(Array.isArray(cs), where);
  for (const c of cs as Challenge[]) {
    assert.equal(typeof c, "object", where);
    assert.deepEqual(Object.keys(c).sort(), ["params", "scheme"], where);
    assert.equal(typeof c.scheme, "string", where);
    assert.match(c.scheme, TOKEN_CHARS, where);
    assert.equal(typeof c.params, "object", where);
    assert.notEqual(c.params, null, where);
    assert.equal(Object.getPrototypeOf(c.params), Object.prototype, where);
    for (const [k, v] of Object.entries(c.params)) {
      assert.match(k, TOKEN_CHARS, where);
      assert.equal(typeof v, "string", where);
    }
  }
}

describe("parseChallenges: what registries send", () => {
  test("Docker Hub's Bearer challenge: realm, service and scope", () => {
    const cs = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    );
    assert.deepEqual(cs, [
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/alpine:pull",
        },
      },
    ]);
  });

  test("Basic with a realm (distribution's htpasswd)", () => {
    assert.deepEqual(parseChallenges('Basic realm="osless-test"'), [
      { scheme: "basic", params: { realm: "osless-test" } },
    ]);
  });

  test("a Bearer error challenge keeps every parameter (insufficient_scope, scope with a comma)", () => {
    const [c] = parseChallenges(
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/app:pull,push",error="insufficient_scope"',
    );
    assert.deepEqual(c, {
      scheme: "bearer",
      params: {
        realm: "https://ghcr.io/token",
        service: "ghcr.io",
        scope: "repository:o/app:pull,push",
        error: "insufficient_scope",
      },
    });
  });

  test("undefined, empty and blank headers give no challenges", () => {
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges(""), []);
    assert.deepEqual(parseChallenges("   \t "), []);
    assert.deepEqual(parseChallenges([]), []);
    assert.deepEqual(parseChallenges(["", ","]), []);
  });

  test("a scheme without parameters", () => {
    assert.deepEqual(parseChallenges("Basic"), [{ scheme: "basic", params: {} }]);
    assert.deepEqual(parseChallenges("Negotiate, Basic"), [
      { scheme: "negotiate", params: {} },
      { scheme: "basic", params: {} },
    ]);
  });
});

describe("parseChallenges: several challenges", () => {
  test("two challenges in one header, separated by a comma", () => {
    const cs = parseChallenges('Bearer realm="https://a/token",service="a", Basic realm="b"');
    assert.deepEqual(cs, [
      { scheme: "bearer", params: { realm: "https://a/token", service: "a" } },
      { scheme: "basic", params: { realm: "b" } },
    ]);
  });

  test("Basic first, then Bearer: the order is kept", () => {
    const cs = parseChallenges('Basic realm="r1",Bearer realm="https://t/token",scope="repository:x:pull"');
    assert.deepEqual(
      cs.map((c) => c.scheme),
      ["basic", "bearer"],
    );
    assert.equal(cs[1]?.params.scope, "repository:x:pull");
    assert.equal(cs[0]?.params.scope, undefined);
  });

  test("challenges in several header values (an array, as undici gives repeated headers)", () => {
    const cs = parseChallenges(['Basic realm="one"', 'Bearer realm="https://two/token",service="two"']);
    assert.deepEqual(cs, [
      { scheme: "basic", params: { realm: "one" } },
      { scheme: "bearer", params: { realm: "https://two/token", service: "two" } },
    ]);
  });

  test("several values, each with several challenges", () => {
    const cs = parseChallenges(['Basic realm="a", Digest realm="b", nonce="n"', "Bearer realm=c, Foo"]);
    assert.deepEqual(
      cs.map((c) => [c.scheme, c.params]),
      [
        ["basic", { realm: "a" }],
        ["digest", { realm: "b", nonce: "n" }],
        ["bearer", { realm: "c" }],
        ["foo", {}],
      ],
    );
  });

  test("parameters of one header value do not leak into a challenge of the next value", () => {
    const cs = parseChallenges(["Bearer", 'realm="orphan"', 'Basic realm="x"']);
    assert.deepEqual(cs, [
      { scheme: "bearer", params: {} },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });
});

describe("parseChallenges: quoting", () => {
  test("escaped quotes and backslashes inside a quoted string", () => {
    const [c] = parseChallenges('Bearer realm="a \\"quoted\\" realm",service="back\\\\slash"');
    assert.equal(c?.params.realm, 'a "quoted" realm');
    assert.equal(c?.params.service, "back\\slash");
  });

  test("commas, equals signs and scheme-like words inside quotes stay in the value", () => {
    const cs = parseChallenges(
      'Bearer realm="https://x/token?a=1,b=2",scope="repository:a:pull,push repository:b:pull", Basic realm="Basic realm=\\"no\\""',
    );
    assert.equal(cs.length, 2);
    assert.equal(cs[0]?.params.realm, "https://x/token?a=1,b=2");
    assert.equal(cs[0]?.params.scope, "repository:a:pull,push repository:b:pull");
    assert.deepEqual(cs[1], { scheme: "basic", params: { realm: 'Basic realm="no"' } });
  });

  test("an escaped character other than a quote is the character itself", () => {
    assert.equal(parseChallenges('Basic realm="\\a\\b"')[0]?.params.realm, "ab");
  });

  test("an unterminated quoted string runs to the end of the header", () => {
    const cs = parseChallenges('Bearer service="s",realm="https://x/token, Basic realm=y');
    assert.equal(cs.length, 1);
    assert.equal(cs[0]?.params.service, "s");
    assert.equal(cs[0]?.params.realm, "https://x/token, Basic realm=y");
  });

  test("a trailing backslash inside an unterminated string does not throw", () => {
    assert.deepEqual(parseChallenges('Basic realm="abc\\'), [
      { scheme: "basic", params: { realm: "abc\\" } },
    ]);
  });

  test("empty values, quoted and unquoted", () => {
    const [c] = parseChallenges('Bearer realm="",service=,scope=""');
    assert.deepEqual(c, { scheme: "bearer", params: { realm: "", service: "", scope: "" } });
    const [d] = parseChallenges("Bearer realm=");
    assert.deepEqual(d, { scheme: "bearer", params: { realm: "" } });
  });

  test("unquoted token values", () => {
    const [c] = parseChallenges(
      "Bearer realm=auth.example.com,service=registry.example.com,error=invalid_token",
    );
    assert.deepEqual(c?.params, {
      realm: "auth.example.com",
      service: "registry.example.com",
      error: "invalid_token",
    });
  });

  test("a later duplicate parameter wins", () => {
    assert.equal(parseChallenges('Basic realm="first", realm="second"')[0]?.params.realm, "second");
  });
});

describe("parseChallenges: spacing and case", () => {
  test("scheme and parameter names are lowercased; values are kept as sent", () => {
    const [c] = parseChallenges('BEARER Realm="HTTPS://Auth.Example/Token",SERVICE="Registry.Example"');
    assert.deepEqual(c, {
      scheme: "bearer",
      params: { realm: "HTTPS://Auth.Example/Token", service: "Registry.Example" },
    });
  });

  test("spaces and tabs around names, '=' and commas", () => {
    const cs = parseChallenges(
      '  \tbEaReR   realm = "https://t/token" ,\t service\t=\t"svc"  ,,  , basic  realm =x ,  ',
    );
    assert.deepEqual(cs, [
      { scheme: "bearer", params: { realm: "https://t/token", service: "svc" } },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });

  test("no comma between parameters still parses each of them", () => {
    const [c] = parseChallenges('Bearer realm="https://t/token" service="svc" scope="s"');
    assert.deepEqual(c?.params, { realm: "https://t/token", service: "svc", scope: "s" });
  });

  test("parameters before any scheme are dropped, the challenge after them is kept", () => {
    assert.deepEqual(parseChallenges('realm="x", service="y", Basic realm="z"'), [
      { scheme: "basic", params: { realm: "z" } },
    ]);
  });

  test("a token68 credential-style value does not swallow the next challenge", () => {
    const cs = parseChallenges('Negotiate abc==, Bearer realm="https://t/token"');
    assert.equal(cs[0]?.scheme, "negotiate");
    const bearer = cs.find((c) => c.scheme === "bearer");
    assert.deepEqual(bearer?.params, { realm: "https://t/token" });
  });

  test("junk characters between challenges are skipped", () => {
    const cs = parseChallenges('(Basic) realm="r" ; Bearer realm="t" @');
    assertWellFormed(cs, "junk");
    assert.ok(cs.some((c) => c.scheme === "basic"));
    assert.deepEqual(cs.find((c) => c.scheme === "bearer")?.params, { realm: "t" });
  });

  test("a parameter named __proto__ or constructor does not touch the prototype", () => {
    const cs = parseChallenges('Bearer __proto__="polluted",constructor="c",realm="r"');
    assertWellFormed(cs, "proto");
    assert.equal(cs[0]?.params.realm, "r");
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(cs[0]?.params), Object.prototype);
  });
});

describe("parseChallenges: fuzz", () => {
  const ALPHABET = [
    '"',
    '"',
    "\\",
    ",",
    ",",
    "=",
    "=",
    " ",
    " ",
    "\t",
    "a",
    "b",
    "Z",
    "0",
    "-",
    ":",
    "/",
    ";",
    "é",
    "\u0000",
    "Bearer ",
    "Basic ",
    "realm",
    "service",
    "scope",
    '="',
    '",',
  ];

  test("20,000 random headers: never throws, always well-formed", () => {
    const rand = prng(0x05e55);
    for (let n = 0; n < 20_000; n++) {
      const len = Math.floor(rand() * 40);
      let s = "";
      for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
      const input = rand() < 0.2 ? [s, s.split("").reverse().join("")] : s;
      let cs: Challenge[];
      try {
        cs = parseChallenges(input);
      } catch (e) {
        assert.fail(`case ${n} threw on ${JSON.stringify(input)}: ${String(e)}`);
      }
      assertWellFormed(cs, input);
    }
  });

  test("5,000 mutated real challenges: never throws, always well-formed", () => {
    const rand = prng(42);
    const base =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push", Basic realm="x\\"y"';
    for (let n = 0; n < 5_000; n++) {
      const chars = base.split("");
      const edits = 1 + Math.floor(rand() * 6);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (chars.length + 1));
        const r = rand();
        if (r < 0.4) chars.splice(at, 1);
        else if (r < 0.8) chars.splice(at, 0, ALPHABET[Math.floor(rand() * ALPHABET.length)] as string);
        else chars.splice(at, 3);
      }
      const input = chars.join("");
      assertWellFormed(parseChallenges(input), input);
    }
  });

  test("2,000 random well-formed headers round-trip exactly", () => {
    const rand = prng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+!#$%&'*^`|";
    const valueChars = 'abcXYZ019 ,=";:/\\-_.?&@\t';
    const word = (min: number) => {
      let w = "";
      const len = min + Math.floor(rand() * 8);
      for (let i = 0; i < len; i++) w += pick(tokenChars.split(""));
      return w;
    };
    for (let n = 0; n < 2_000; n++) {
      const expected: Challenge[] = [];
      const headerValues: string[] = [];
      const values = 1 + Math.floor(rand() * 3);
      for (let v = 0; v < values; v++) {
        const parts: string[] = [];
        const count = 1 + Math.floor(rand() * 3);
        for (let c = 0; c < count; c++) {
          const scheme = word(1);
          const params: Record<string, string> = {};
          const written: string[] = [];
          const nParams = Math.floor(rand() * 4);
          for (let p = 0; p < nParams; p++) {
            const name = word(1).toLowerCase();
            if (name === "__proto__" || name in params) continue;
            let value = "";
            const vlen = Math.floor(rand() * 12);
            for (let i = 0; i < vlen; i++) value += pick(valueChars.split(""));
            params[name] = value;
            const quoted = `"${value.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
            const nameCase = rand() < 0.5 ? name.toUpperCase() : name;
            written.push(`${nameCase}${pick(["=", " = ", "=\t"])}${quoted}`);
          }
          expected.push({ scheme: scheme.toLowerCase(), params });
          parts.push(written.length ? `${scheme} ${written.join(pick([",", ", ", " ,\t"]))}` : scheme);
        }
        headerValues.push(parts.join(pick([",", ", ", " , "])));
      }
      const input = headerValues.length === 1 ? (headerValues[0] as string) : headerValues;
      assert.deepEqual(parseChallenges(input), expected, `input ${JSON.stringify(input)}`);
    }
  });
});

test("an unquoted URL value is kept whole", () => {
  assert.deepEqual(parseChallenges("Bearer realm=https://auth.example:8443/token?x=1,service=reg"), [
    { scheme: "bearer", params: { realm: "https://auth.example:8443/token?x=1", service: "reg" } },
  ]);
});
