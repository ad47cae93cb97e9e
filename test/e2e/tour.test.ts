// `osless tour`, the main job: the article's walk with real images (gcc -static, debootstrap) and real runc. The
// transcript (--json) says what ran; the commands it showed are typed again and must give the same answers.
import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { startRegistry } from "../fixtures/registry.ts";
import { needTool, tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

needTool("runc", "runc");
needTool("gcc", "gcc");
needTool("debootstrap", "debootstrap");

interface TourJson {
  steps: {
    title: string;
    commands: { command: string; status: number; output: string }[];
    notes: string[];
  }[];
  images: Record<string, { verdict: string; summary: string }>;
  seconds: number;
}

function step(r: TourJson, n: number): TourJson["steps"][number] {
  const s = r.steps.find((x) => x.title.startsWith(`${n}. `));
  assert.ok(s, `step ${n} ran: ${r.steps.map((x) => x.title).join(" | ")}`);
  return s;
}

function output(s: TourJson["steps"][number], command: RegExp): { status: number; output: string } {
  const c = s.commands.find((x) => command.test(x.command));
  assert.ok(c, `${command} ran in "${s.title}": ${s.commands.map((x) => x.command).join(" | ")}`);
  return c;
}

test("tour --no-debian: hello built FROM scratch, run, seen from the host, `bash` refused, analyzed", async () => {
  const root = join(await tmpdir("tour-"), "store");
  const r = await osless(root, ["tour", "--no-debian", "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const t = JSON.parse(r.stdout) as TourJson;
  assert.deepEqual(
    t.steps.map((s) => s.title.split(".")[0]),
    ["1", "2", "3", "6", "7", "8", "9"],
  );
  assert.match(output(step(t, 1), /^gcc -static/).output, /^$/);
  assert.match(output(step(t, 2), /^osless run --rm tour\/hello$/).output, /^Hello from a static binary/);
  const top = output(step(t, 3), /^osless top tour-hello$/).output;
  assert.match(top, /\/hello --wait\s+\[container pid 1\]/);
  assert.match(top, /^pid\s+pid:\[\d+\]\s+pid:\[\d+\]\s+its own$/m);
  assert.match(top, /^Cgroup \/osless\//m);
  const bash = output(step(t, 6), /^osless run --rm tour\/hello bash$/);
  assert.equal(bash.status, 127);
  assert.match(bash.output, /bash: not found .* it has no OS inside/);
  assert.equal(t.images["tour/hello"]?.verdict, "none");
  assert.match(step(t, 9).notes.join(), /--real-images/);
  // What the tour showed, typed again by the user, gives the same.
  const again = await osless(root, ["run", "--rm", "tour/hello"]);
  assert.equal(again.stdout, output(step(t, 2), /^osless run --rm tour\/hello$/).output);
  const ps = await osless(root, ["ps", "-a", "--json"]);
  assert.deepEqual(JSON.parse(ps.stdout), [], "the tour's containers are gone");
});

test("the whole tour: Debian from debootstrap, a shell and exec in it, both images side by side; a second tour reuses it", async () => {
  const root = join(await tmpdir("tour-debian-"), "store");
  const r = await osless(root, ["tour", "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-3000));
  const t = JSON.parse(r.stdout) as TourJson;
  assert.deepEqual(
    t.steps.map((s) => s.title.split(".")[0]),
    ["1", "2", "3", "4", "5", "6", "7", "8", "9"],
  );
  const deb = step(t, 4);
  assert.match(
    output(deb, /^debootstrap --variant=minbase bookworm rootfs MIRROR$/).output,
    /Base system installed successfully/,
  );
  assert.equal(output(deb, /^osless build -q -t tour\/debian /).status, 0);
  assert.match(
    output(step(t, 5), /^osless run -i --rm tour\/debian bash$/).output,
    /^bash 5\.[\d.()\w-]+ on Debian 12\.\d+$/m,
  );
  assert.match(
    output(step(t, 5), /^osless exec tour-debian cat \/etc\/os-release$/).output,
    /^PRETTY_NAME="Debian GNU\/Linux 12 \(bookworm\)"$/m,
  );
  assert.equal(t.images["tour/hello"]?.verdict, "none");
  assert.equal(t.images["tour/debian"]?.verdict, "full");
  const layers = output(step(t, 7), /^osless explore tour\/debian --json$/);
  assert.equal(layers.status, 0);
  // The second tour finds tour/debian in the store and does not debootstrap again.
  const again = await osless(root, ["tour", "--json"]);
  assert.equal(again.code, 0, again.stderr);
  const t2 = JSON.parse(again.stdout) as TourJson;
  assert.match(step(t2, 4).notes.join(), /tour\/debian is in the store from an earlier tour: reused/);
  assert.equal(step(t2, 4).commands.length, 0);
  assert.ok(t2.seconds < t.seconds, `${t2.seconds} s after ${t.seconds} s`);
});

test("--real-images pulls nginx, debian and alpine (here from a local registry standing in for Docker Hub) and analyzes them side by side", async () => {
  const reg = await startRegistry({ logLevel: "error" });
  try {
    const root = join(await tmpdir("tour-real-"), "store");
    const first = await osless(root, ["tour", "--no-debian", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    // Stand-ins for Docker Hub's images: the tour's own hello under the three names.
    for (const n of ["nginx", "debian", "alpine"]) {
      const name = `${reg.host}/library/${n}:latest`;
      assert.equal((await osless(root, ["tag", "tour/hello", name])).code, 0);
      const push = await osless(root, ["push", name]);
      assert.equal(push.code, 0, push.stderr);
      assert.equal((await osless(root, ["rmi", name])).code, 0);
    }
    const r = await osless(root, ["tour", "--no-debian", "--real-images", "--registry", reg.host, "--json"]);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
    const t = JSON.parse(r.stdout) as TourJson;
    const pulls = step(t, 9).commands.filter((c) => c.command.startsWith("osless pull"));
    assert.deepEqual(
      pulls.map((c) => [c.command, c.status]),
      ["nginx", "debian", "alpine"].map((n) => [`osless pull -q ${reg.host}/library/${n}`, 0]),
    );
    for (const n of ["nginx", "debian", "alpine"]) {
      assert.equal(t.images[`${reg.host}/library/${n}`]?.verdict, "none");
    }
  } finally {
    await reg.stop();
  }
});

test("without gcc, busybox-static's binary is the static program the tour builds FROM scratch", async () => {
  const root = join(await tmpdir("tour-busybox-"), "store");
  // A PATH with busybox and the runtime, and no gcc.
  const bin = await tmpdir("tour-path-");
  symlinkSync(needTool("busybox", "busybox-static"), join(bin, "busybox"));
  const r = await osless(root, ["tour", "--no-debian", "--json"], {
    env: { PATH: `${bin}:${dirname(needTool("runc", "runc"))}` },
  });
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const t = JSON.parse(r.stdout) as TourJson;
  assert.match(step(t, 1).notes.join(), /busybox-static's binary is the static program instead/);
  assert.equal(
    step(t, 1).commands.some((c) => c.command.startsWith("gcc")),
    false,
  );
  assert.match(output(step(t, 2), /^osless run --rm tour\/hello$/).output, /^Hello from busybox/);
  assert.equal(output(step(t, 6), /^osless run --rm tour\/hello bash$/).status, 127);
  assert.equal(t.images["tour/hello"]?.verdict, "busybox");
});
