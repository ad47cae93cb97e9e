// A node:test reporter: one line per test ("ok"/"FAIL"/"skip" with duration), failure details at the end,
// and the plain closing line "N passed, N failed[, N skipped]" that CI reads.
import { relative } from "node:path";
import { inspect } from "node:util";

const cwd = process.cwd();

export default async function* reporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for await (const event of source) {
    const d = event.data;
    switch (event.type) {
      case "test:pass":
      case "test:fail": {
        // Only leaf tests count; suites (describe) report their own pass/fail too.
        if (d.details?.type === "suite") break;
        const file = d.file ? relative(cwd, d.file) : "";
        const ms = d.details?.duration_ms ? ` (${Math.round(d.details.duration_ms)} ms)` : "";
        if (d.skip || d.todo) {
          skipped++;
          yield `skip ${file} › ${d.name}${typeof d.skip === "string" ? ` — ${d.skip}` : ""}\n`;
        } else if (event.type === "test:pass") {
          passed++;
          yield `ok   ${file} › ${d.name}${ms}\n`;
        } else {
          failed++;
          const err = d.details?.error;
          const cause = err?.cause ?? err;
          failures.push(`${file} › ${d.name}\n${inspect(cause, { depth: 4 })}`);
          yield `FAIL ${file} › ${d.name}${ms}\n`;
        }
        break;
      }
      case "test:stderr":
      case "test:stdout":
        if (process.env.OSLESS_TEST_VERBOSE) yield d.message;
        break;
      case "test:diagnostic":
        if (/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(d.message)) break;
        yield `# ${d.message}\n`;
        break;
    }
  }
  if (failures.length > 0) {
    yield "\nFailures:\n";
    for (const f of failures) yield `\n${f}\n`;
    yield "\n";
  }
  yield `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`;
}
