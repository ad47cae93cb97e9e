import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import { isLoopbackRegistry, parseReference, registryHost, tryParseReference } from "./index.ts";

const H64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SHA256 = `sha256:${H64}`;
const SHA512 =
  "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const SHA384 = `sha384:${"a".repeat(96)}`;
const HUB = "docker.io";

interface Valid {
  input: string;
  canonical: string;
  familiar: string;
  domain: string;
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}
interface Invalid {
  input: string;
  error: string;
}

/** A row for a valid reference: input -> canonical, familiar, domain, path, tag, digest. */
const ok = (
  input: string,
  canonical: string,
  familiar: string,
  domain: string,
  path: string,
  tag: string | undefined,
  digest?: string,
): Valid => ({ input, canonical, familiar, domain, path, tag, digest });
/** A row for an invalid reference: input -> a substring of the error message. */
const bad = (input: string, error: string): Invalid => ({ input, error });

const ALPINE = ["docker.io/library/alpine:latest", "alpine:latest", HUB, "library/alpine", "latest"] as const;

const VALID: Valid[] = [
  // Docker Hub normalisation: docker.io, library/, :latest; index.docker.io is an alias.
  ok("alpine", ...ALPINE),
  ok("library/alpine", ...ALPINE),
  ok("docker.io/alpine", ...ALPINE),
  ok("docker.io/library/alpine", ...ALPINE),
  ok("index.docker.io/library/alpine", ...ALPINE),
  ok("index.docker.io/alpine", ...ALPINE),
  ok("docker.io/library/alpine:latest", ...ALPINE),
  ok("alpine:3.20", "docker.io/library/alpine:3.20", "alpine:3.20", HUB, "library/alpine", "3.20"),
  ok("user/repo", "docker.io/user/repo:latest", "user/repo:latest", HUB, "user/repo", "latest"),
  ok("docker.io/user/app:1", "docker.io/user/app:1", "user/app:1", HUB, "user/app", "1"),
  ok("a/b/c/d", "docker.io/a/b/c/d:latest", "a/b/c/d:latest", HUB, "a/b/c/d", "latest"),
  // Only a direct child of library/ loses the prefix in the familiar form.
  ok("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", HUB, "library/a/b", "latest"),
  ok(
    "docker.io/library",
    "docker.io/library/library:latest",
    "library:latest",
    HUB,
    "library/library",
    "latest",
  ),
  // Without a "/" nothing is a domain, not even localhost, a DNS name, an IP or host:port.
  ok(
    "localhost",
    "docker.io/library/localhost:latest",
    "localhost:latest",
    HUB,
    "library/localhost",
    "latest",
  ),
  ok(
    "localhost:5000",
    "docker.io/library/localhost:5000",
    "localhost:5000",
    HUB,
    "library/localhost",
    "5000",
  ),
  ok(
    "example.com",
    "docker.io/library/example.com:latest",
    "example.com:latest",
    HUB,
    "library/example.com",
    "latest",
  ),
  ok(
    "192.168.0.1:80",
    "docker.io/library/192.168.0.1:80",
    "192.168.0.1:80",
    HUB,
    "library/192.168.0.1",
    "80",
  ),
  ok(
    "index.docker.io",
    "docker.io/library/index.docker.io:latest",
    "index.docker.io:latest",
    HUB,
    "library/index.docker.io",
    "latest",
  ),
  // Registries: ".", ":", "localhost" or an uppercase letter in the first element.
  ok("localhost/foo", "localhost/foo:latest", "localhost/foo:latest", "localhost", "foo", "latest"),
  ok(
    "localhost:5000/foo:bar",
    "localhost:5000/foo:bar",
    "localhost:5000/foo:bar",
    "localhost:5000",
    "foo",
    "bar",
  ),
  ok(
    "127.0.0.1:5000/x",
    "127.0.0.1:5000/x:latest",
    "127.0.0.1:5000/x:latest",
    "127.0.0.1:5000",
    "x",
    "latest",
  ),
  ok("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest", "[::1]:5000", "x", "latest"),
  ok("[::1]/x", "[::1]/x:latest", "[::1]/x:latest", "[::1]", "x", "latest"),
  ok(
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
    "[fc00:1:2:3:4:5:6:7]:5000",
    "library/debian",
    "latest",
  ),
  ok("example.com/x", "example.com/x:latest", "example.com/x:latest", "example.com", "x", "latest"),
  ok("EXAMPLE.com/x", "EXAMPLE.com/x:latest", "EXAMPLE.com/x:latest", "EXAMPLE.com", "x", "latest"),
  ok("LOCALDOMAIN/foo", "LOCALDOMAIN/foo:latest", "LOCALDOMAIN/foo:latest", "LOCALDOMAIN", "foo", "latest"),
  ok("example:5000/x", "example:5000/x:latest", "example:5000/x:latest", "example:5000", "x", "latest"),
  // Only the exact lowercase "docker.io" is Docker Hub.
  ok(
    "Docker.io/alpine",
    "Docker.io/alpine:latest",
    "Docker.io/alpine:latest",
    "Docker.io",
    "alpine",
    "latest",
  ),
  // Ports are digits, without a range check (as in Docker).
  ok(
    "localhost:99999/x",
    "localhost:99999/x:latest",
    "localhost:99999/x:latest",
    "localhost:99999",
    "x",
    "latest",
  ),
  ok(
    "my-reg.example.com:443/org/team/app:v1.2.3",
    "my-reg.example.com:443/org/team/app:v1.2.3",
    "my-reg.example.com:443/org/team/app:v1.2.3",
    "my-reg.example.com:443",
    "org/team/app",
    "v1.2.3",
  ),
  ok("gcr.io/p/i:t", "gcr.io/p/i:t", "gcr.io/p/i:t", "gcr.io", "p/i", "t"),
  // Path separators: ".", "_", "__", any number of "-".
  ok("foo_bar", "docker.io/library/foo_bar:latest", "foo_bar:latest", HUB, "library/foo_bar", "latest"),
  ok("foo__bar", "docker.io/library/foo__bar:latest", "foo__bar:latest", HUB, "library/foo__bar", "latest"),
  ok("foo-bar", "docker.io/library/foo-bar:latest", "foo-bar:latest", HUB, "library/foo-bar", "latest"),
  ok("foo--bar", "docker.io/library/foo--bar:latest", "foo--bar:latest", HUB, "library/foo--bar", "latest"),
  ok("foo---bar/b", "docker.io/foo---bar/b:latest", "foo---bar/b:latest", HUB, "foo---bar/b", "latest"),
  ok("foo.bar", "docker.io/library/foo.bar:latest", "foo.bar:latest", HUB, "library/foo.bar", "latest"),
  ok(
    "a.b_c__d-e--f",
    "docker.io/library/a.b_c__d-e--f:latest",
    "a.b_c__d-e--f:latest",
    HUB,
    "library/a.b_c__d-e--f",
    "latest",
  ),
  ok("0/1", "docker.io/0/1:latest", "0/1:latest", HUB, "0/1", "latest"),
  // Tags.
  ok("alpine:Latest", "docker.io/library/alpine:Latest", "alpine:Latest", HUB, "library/alpine", "Latest"),
  ok("alpine:_x", "docker.io/library/alpine:_x", "alpine:_x", HUB, "library/alpine", "_x"),
  ok(
    "alpine:1.0-rc.1_b",
    "docker.io/library/alpine:1.0-rc.1_b",
    "alpine:1.0-rc.1_b",
    HUB,
    "library/alpine",
    "1.0-rc.1_b",
  ),
  ok(
    `a:${"t".repeat(128)}`,
    `docker.io/library/a:${"t".repeat(128)}`,
    `a:${"t".repeat(128)}`,
    HUB,
    "library/a",
    "t".repeat(128),
  ),
  // Digests: no :latest is added; name:tag@digest keeps both.
  ok(
    `alpine@${SHA256}`,
    `docker.io/library/alpine@${SHA256}`,
    `alpine@${SHA256}`,
    HUB,
    "library/alpine",
    undefined,
    SHA256,
  ),
  ok(
    `alpine:3@${SHA256}`,
    `docker.io/library/alpine:3@${SHA256}`,
    `alpine:3@${SHA256}`,
    HUB,
    "library/alpine",
    "3",
    SHA256,
  ),
  ok(`u/r@${SHA512}`, `docker.io/u/r@${SHA512}`, `u/r@${SHA512}`, HUB, "u/r", undefined, SHA512),
  ok(
    `localhost:5000/x:y@${SHA256}`,
    `localhost:5000/x:y@${SHA256}`,
    `localhost:5000/x:y@${SHA256}`,
    "localhost:5000",
    "x",
    "y",
    SHA256,
  ),
  // Length: the path counts ("library/" included), the domain does not.
  ok(
    `example.com/${"a".repeat(255)}`,
    `example.com/${"a".repeat(255)}:latest`,
    `example.com/${"a".repeat(255)}:latest`,
    "example.com",
    "a".repeat(255),
    "latest",
  ),
  ok(
    "a".repeat(247),
    `docker.io/library/${"a".repeat(247)}:latest`,
    `${"a".repeat(247)}:latest`,
    HUB,
    `library/${"a".repeat(247)}`,
    "latest",
  ),
  // 64 hex characters are a name once a domain or a tag makes the input unambiguous.
  ok(`docker.io/${H64}`, `docker.io/library/${H64}:latest`, `${H64}:latest`, HUB, `library/${H64}`, "latest"),
  ok(`${H64}:v1`, `docker.io/library/${H64}:v1`, `${H64}:v1`, HUB, `library/${H64}`, "v1"),
  ok(
    H64.slice(1),
    `docker.io/library/${H64.slice(1)}:latest`,
    `${H64.slice(1)}:latest`,
    HUB,
    `library/${H64.slice(1)}`,
    "latest",
  ),
];

const INVALID: Invalid[] = [
  bad("", "reference is empty"),
  bad(" alpine", "whitespace"),
  bad("alpine ", "whitespace"),
  bad("alp\tine", "whitespace"),
  bad("alpïne", 'character "ï"'),
  bad("https://docker.io/alpine", "no URL scheme"),
  bad("alpine:", 'tag is empty after ":"'),
  bad("alpine@", '"@" is not followed by a digest'),
  bad("alpine@latest", '"latest" is not a digest'),
  bad(`@${SHA256}`, 'repository name is missing before "@"'),
  bad(":latest", "repository name is missing"),
  bad("//", 'starts with "/"'),
  bad("/foo", 'starts with "/"'),
  bad("foo/", 'ends with "/"'),
  bad("foo//bar", 'contains "//"'),
  bad("docker.io/", 'repository name is missing after "docker.io/"'),
  bad("docker.io/:latest", 'repository name is missing after "docker.io/"'),
  bad("localhost:5000/", "repository name is missing after"),
  bad("Alpine", "repository name must be lowercase"),
  bad("ALPINE:latest", "repository name must be lowercase"),
  bad("user/Repo", "repository name must be lowercase"),
  bad("localhost:5000/Foo", "repository name must be lowercase"),
  bad("_foo", 'starts with "_"'),
  bad("-foo", 'starts with "-"'),
  bad(".foo", 'starts with "."'),
  bad("foo_", 'ends with "_"'),
  bad("foo-/bar", 'ends with "-"'),
  bad("foo..bar", 'invalid separator ".."'),
  bad("foo___bar", 'invalid separator "___"'),
  bad("foo_-bar", 'invalid separator "_-"'),
  bad("foo.-bar", 'invalid separator ".-"'),
  bad(`a:${"t".repeat(129)}`, "tag is 129 characters long"),
  bad("alpine:.x", 'starts with "."'),
  bad("alpine:-x", 'starts with "-"'),
  bad("a:b:c", 'tag "b:c" contains ":"'),
  bad("alpine:a/b", 'registry port "a" is not a number'),
  bad("localhost:abc/x", 'registry port "abc" is not a number'),
  bad("localhost:/x", "has an empty port"),
  bad("::1/x", 'registry "::1" is not valid'),
  bad("[::1]:5000", 'path component "[" contains "["'),
  bad("[fe80::1%eth0]:5000/x", 'character "%"'),
  bad("[2001:db8::192.0.2.33]:5000/x", 'registry host "[2001:db8::192.0.2.33]" is not valid'),
  bad("-docker.io/x", 'registry host "-docker.io" is not valid'),
  bad("foo_bar.com/x", 'registry host "foo_bar.com" is not valid'),
  bad("Foo_bar/x", 'registry host "Foo_bar" is not valid'),
  bad(`alpine@sha256:${H64.toUpperCase()}`, "not a valid sha256 digest"),
  bad("alpine@sha256:abc", "not a valid sha256 digest"),
  bad(`alpine@md5:${H64.slice(0, 32)}`, 'digest algorithm "md5" is not supported'),
  bad(`alpine@${SHA384}`, 'digest algorithm "sha384" is not supported'),
  bad(`alpine@${SHA256}@${SHA256}`, "is not a digest"),
  bad(`example.com/${"a".repeat(256)}`, "repository name is 256 characters long"),
  bad("a".repeat(248), 'is 256 characters long (at most 255, counting the implied "library/")'),
  bad(H64, "cannot specify 64-byte hexadecimal strings"),
];

test(`parseReference normalises ${VALID.length} valid references like Docker`, () => {
  for (const c of VALID) {
    const ref = parseReference(c.input);
    const got = {
      canonical: ref.toString(),
      familiar: ref.familiar(),
      domain: ref.domain,
      path: ref.path,
      tag: ref.tag,
      digest: ref.digest,
      name: ref.name,
    };
    const want = { ...c, name: `${c.domain}/${c.path}` } as Record<string, unknown>;
    delete want.input;
    assert.deepEqual(got, want, c.input);
    assert.equal(String(ref), c.canonical, c.input);
    // Both printed forms parse back to the same reference.
    assert.equal(parseReference(ref.toString()).toString(), c.canonical, `${c.input} canonical round trip`);
    assert.equal(parseReference(ref.familiar()).toString(), c.canonical, `${c.input} familiar round trip`);
  }
});

test(`parseReference rejects ${INVALID.length} invalid references with a precise E_REFERENCE_INVALID`, () => {
  for (const c of INVALID) {
    assert.throws(
      () => parseReference(c.input),
      (e: unknown) => {
        assert.ok(isOslessError(e, "E_REFERENCE_INVALID"), `${c.input}: ${String(e)}`);
        assert.ok(
          e.message.startsWith(`invalid reference ${JSON.stringify(c.input)}: `),
          `${c.input}: message does not quote the input: ${e.message}`,
        );
        assert.ok(e.message.includes(c.error), `${c.input}: "${e.message}" lacks "${c.error}"`);
        assert.ok(typeof e.hint === "string" && e.hint.length > 10, `${c.input}: no hint`);
        assert.equal(e.details?.reference, c.input);
        return true;
      },
      c.input,
    );
    assert.equal(tryParseReference(c.input), undefined, c.input);
  }
});

test("the table has at least 60 rows", () => {
  assert.ok(VALID.length + INVALID.length >= 60, String(VALID.length + INVALID.length));
});

test("the uppercase error reads like Docker's and suggests the lowercase name", () => {
  assert.throws(
    () => parseReference("Alpine"),
    (e: unknown) =>
      isOslessError(e, "E_REFERENCE_INVALID") &&
      e.message.startsWith('invalid reference "Alpine": repository name must be lowercase') &&
      e.hint?.includes('"alpine"') === true,
  );
});

test("a digest that is not one wraps the digest error as its cause", () => {
  assert.throws(
    () => parseReference("alpine@sha256:abc"),
    (e: unknown) => isOslessError(e, "E_REFERENCE_INVALID") && isOslessError(e.cause, "E_DIGEST_INVALID"),
  );
});

test("defaultTag: false leaves a tagless reference without tag", () => {
  const ref = parseReference("alpine", { defaultTag: false });
  assert.equal(ref.tag, undefined);
  assert.equal(ref.toString(), "docker.io/library/alpine");
  assert.equal(ref.familiar(), "alpine");
  assert.equal(parseReference("ghcr.io/o/a:1", { defaultTag: false }).tag, "1");
  assert.equal(
    parseReference(`a@${SHA256}`, { defaultTag: false }).toString(),
    `docker.io/library/a@${SHA256}`,
  );
  assert.equal(parseReference("alpine", { defaultTag: true }).tag, "latest");
});

test("tryParseReference returns the reference or undefined", () => {
  assert.equal(tryParseReference("user/app:2")?.toString(), "docker.io/user/app:2");
  assert.equal(tryParseReference("Nope"), undefined);
  assert.equal(tryParseReference(""), undefined);
});

test("references are immutable", () => {
  const ref = parseReference("alpine");
  assert.ok(Object.isFrozen(ref));
  assert.throws(() => {
    (ref as { tag: string | undefined }).tag = "edge";
  }, TypeError);
});

test("registryHost maps Docker Hub to registry-1.docker.io and leaves others alone", () => {
  assert.equal(registryHost("docker.io"), "registry-1.docker.io");
  assert.equal(registryHost("index.docker.io"), "registry-1.docker.io");
  assert.equal(registryHost(parseReference("alpine").domain), "registry-1.docker.io");
  for (const d of ["registry-1.docker.io", "ghcr.io", "localhost:5000", "[::1]:5000", "quay.io:443"]) {
    assert.equal(registryHost(d), d);
  }
});

test("isLoopbackRegistry accepts localhost, 127.0.0.0/8 and ::1 only", () => {
  for (const d of [
    "localhost",
    "localhost:5000",
    "LocalHost:5000",
    "127.0.0.1",
    "127.0.0.1:5000",
    "127.255.255.254:80",
    "[::1]",
    "[::1]:5000",
    "[0:0:0:0:0:0:0:1]:5000",
    "[::ffff:7f00:1]:5000",
  ]) {
    assert.equal(isLoopbackRegistry(d), true, d);
  }
  for (const d of [
    "docker.io",
    "registry-1.docker.io",
    "128.0.0.1",
    "10.0.0.1:5000",
    "0.0.0.0:5000",
    "[::2]:5000",
    "[::]:5000",
    "localhost.example.com",
    "127.0.0.1.nip.example",
    "mylocalhost:5000",
    "[::1",
    "",
  ]) {
    assert.equal(isLoopbackRegistry(d), false, d);
  }
});
