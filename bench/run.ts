/**
 * `npm run bench -- NAME`: runs one benchmark. Each benchmark times osless and its peer (or the physical floor)
 * in the same run, on the same input, and prints the ratio.
 */
const BENCHES: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  analyze: () => import("./analyze.ts"),
  build: () => import("./build.ts"),
  explore: () => import("./explore.ts"),
  load: () => import("./load.ts"),
  pull: () => import("./pull.ts"),
  push: () => import("./push.ts"),
  run: () => import("./container-run.ts"),
  unpack: () => import("./unpack.ts"),
  view: () => import("./view.ts"),
};

const name = process.argv[2];
if (!name || !(name in BENCHES)) {
  console.error(`usage: npm run bench -- NAME\nbenchmarks: ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}
// Every benchmark times Node processes on both sides without a machine-wide NODE_EXTRA_CA_CERTS (bench/util.ts).
const { withoutExtraCaCerts } = await import("./util.ts");
withoutExtraCaCerts();
await (await BENCHES[name]!()).run();
