/**
 * The analysis as a CycloneDX 1.6 JSON document (`osless analyze --format cyclonedx`), built with
 * @cyclonedx/cyclonedx-library's models and JSON normaliser:
 *
 * - `metadata.component`: the image (type `container`; name = the image's name, else what was analysed, `rootfs`
 *   for a bare Analysis; version = the manifest digest; bom-ref `image:<digest>`, else `image:<source>`) with osless's answer as
 *   properties: `osless:verdict`, `osless:summary`, `osless:distroless`, the entrypoint (`osless:entrypoint:path`,
 *   `:linkage`, `:interpreter`, `:library` "NAME -> PATH" each, `:missing` "NAME (needed by PATH)" each, ...),
 *   what it reaches against the whole image, the C library, the findings count.
 * - `components`: the distribution (type `operating-system`, name = os-release ID, version = VERSION_ID,
 *   description = PRETTY_NAME, bom-ref `os:<id>@<versionId>`) when one was identified, then one `library` per
 *   package with its purl (purl.ts; also its bom-ref) and licences (license.ts). Sorted by bom-ref (code points,
 *   not the locale), so the text depends only on the analysis, the serial number and the timestamp.
 * - No `dependencies`: osless does not read package relations, and CycloneDX reads a component listed in the
 *   graph without `dependsOn` as one that has no dependencies, which the library would claim for every package.
 *
 * The library is loaded when a document is made (its subpath modules, by dynamic import), never when this module
 * is imported: other commands do not pay for it.
 */
import { randomUUID } from "node:crypto";
import { OslessError } from "../../errors.ts";
import type { Analysis } from "../analyze.ts";
import type { AnalyzedImage } from "../image.ts";
import { type LicenseChoice, licenseChoices } from "./license.ts";
import { type PurlOs, packagePurl } from "./purl.ts";

/** The CycloneDX specification version of the documents. */
export const CYCLONEDX_SPEC_VERSION = "1.6";

export interface CycloneDxOptions {
  /** `urn:uuid:<RFC 4122 UUID>`, lower-case hex; a random one when absent. */
  serialNumber?: string | undefined;
  /** `metadata.timestamp`; now when absent. */
  timestamp?: Date | undefined;
  /** osless's version, for `metadata.tools`. */
  toolVersion?: string | undefined;
}

const SERIAL = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A string order by UTF-16 code units: the same on every machine, whatever the locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Prop = [name: string, value: string];

/** osless's answer, as properties of the image component. */
function imageProperties(a: AnalyzedImage | Analysis): Prop[] {
  const props: Prop[] = [["osless:verdict", a.verdict]];
  if (a.summary) props.push(["osless:summary", a.summary]);
  props.push(["osless:distroless", String(a.distroless)]);
  if ("image" in a) {
    props.push(["osless:image:source", a.image.source]);
    if (a.image.id) props.push(["osless:image:id", a.image.id]);
    if (a.image.platform) props.push(["osless:image:platform", a.image.platform]);
  }
  const ep = a.entrypoint;
  if (ep.argv.length > 0) props.push(["osless:entrypoint:argv", JSON.stringify(ep.argv)]);
  if (ep.path !== null) props.push(["osless:entrypoint:path", ep.path]);
  props.push(["osless:entrypoint:linkage", ep.linkage]);
  if (ep.interpreter !== null) props.push(["osless:entrypoint:interpreter", ep.interpreter]);
  for (const s of ep.scriptInterpreters) props.push(["osless:entrypoint:scriptInterpreter", s]);
  for (const l of ep.libraries) props.push(["osless:entrypoint:library", `${l.name} -> ${l.path}`]);
  for (const m of ep.missing)
    props.push(["osless:entrypoint:missing", `${m.name} (needed by ${m.neededBy})`]);
  if (ep.go) props.push(["osless:entrypoint:go", ep.go.version]);
  if (ep.rust) props.push(["osless:entrypoint:rust", "true"]);
  props.push(
    ["osless:reachable:files", String(a.reachable.files)],
    ["osless:reachable:bytes", String(a.reachable.bytes)],
    ["osless:files", String(a.reachable.totalFiles)],
    ["osless:bytes", String(a.reachable.totalBytes)],
  );
  const libc = a.inventory.libc;
  props.push(["osless:libc", libc.version ? `${libc.flavour} ${libc.version}` : libc.flavour]);
  if (a.inventory.busybox) {
    props.push(["osless:busybox", a.inventory.busybox.version ?? a.inventory.busybox.path]);
  }
  for (const s of a.inventory.shells) props.push(["osless:shell", s.path]);
  for (const p of a.inventory.packageManagers) {
    if (!p.busyboxApplet) props.push(["osless:packageManager", p.path]);
  }
  props.push(["osless:findings", String(a.findings.length)]);
  return props;
}

interface PackageEntry {
  ref: string;
  p: Analysis["packages"][number];
  purl: string;
}

/**
 * The CycloneDX 1.6 JSON text of an analysis. Deterministic given `serialNumber` and `timestamp`. Throws
 * E_USAGE for a serial number that is not a `urn:uuid:` (the library would drop it silently).
 */
export async function toCycloneDx(a: AnalyzedImage | Analysis, opts: CycloneDxOptions = {}): Promise<string> {
  const serialNumber = opts.serialNumber ?? `urn:uuid:${randomUUID()}`;
  if (!SERIAL.test(serialNumber)) {
    throw new OslessError("E_USAGE", `${JSON.stringify(serialNumber)} is not a CycloneDX serial number`, {
      hint: "give urn:uuid: and a UUID in lower-case hex, e.g. urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    });
  }
  const [Models, Enums, Spec, Serialize, SPDX] = await Promise.all([
    import("@cyclonedx/cyclonedx-library/Models"),
    import("@cyclonedx/cyclonedx-library/Enums"),
    import("@cyclonedx/cyclonedx-library/Spec"),
    import("@cyclonedx/cyclonedx-library/Serialize"),
    import("@cyclonedx/cyclonedx-library/SPDX"),
  ]);
  type License = InstanceType<
    typeof Models.SpdxLicense | typeof Models.NamedLicense | typeof Models.LicenseExpression
  >;
  const properties = (props: Prop[]) =>
    new Models.PropertyRepository(props.map(([n, v]) => new Models.Property(n, v)));
  const license = (c: LicenseChoice): License =>
    c.kind === "id"
      ? new Models.SpdxLicense(c.id)
      : c.kind === "expression"
        ? new Models.LicenseExpression(c.expression)
        : new Models.NamedLicense(c.name);

  // The image.
  const image = "image" in a ? a.image : null;
  const imageName = image ? (image.name ?? image.source) : "rootfs";
  const imageRef = `image:${image ? (image.digest ?? image.source) : "rootfs"}`;
  const imageComponent = new Models.Component(Enums.ComponentType.Container, imageName, {
    bomRef: imageRef,
    ...(image?.digest ? { version: image.digest } : {}),
    properties: properties(imageProperties(a)),
  });

  const components: InstanceType<typeof Models.Component>[] = [];
  // The distribution.
  const os: PurlOs = a.os?.id ? { id: a.os.id, versionId: a.os.versionId } : null;
  if (a.os?.id) {
    const ref = a.os.versionId ? `os:${a.os.id}@${a.os.versionId}` : `os:${a.os.id}`;
    components.push(
      new Models.Component(Enums.ComponentType.OperatingSystem, a.os.id, {
        bomRef: ref,
        ...(a.os.versionId ? { version: a.os.versionId } : {}),
        ...(a.os.prettyName ? { description: a.os.prettyName } : {}),
        ...(a.os.source ? { properties: properties([["osless:os:source", a.os.source]]) } : {}),
      }),
    );
  }

  // The packages: one component per purl (a database listing the same package twice gives one).
  const entries: PackageEntry[] = a.packages.map((p) => {
    const purl = packagePurl(p, os);
    return { ref: purl, p, purl };
  });
  entries.sort(
    (x, y) => byCodeUnits(x.purl, y.purl) || byCodeUnits(x.p.license ?? "\uffff", y.p.license ?? "\uffff"),
  );
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.ref)) continue;
    seen.add(e.ref);
    const licenses = licenseChoices(e.p.license, SPDX.fixupSpdxId).map(license);
    components.push(
      new Models.Component(Enums.ComponentType.Library, e.p.name, {
        bomRef: e.ref,
        version: e.p.version,
        purl: e.purl,
        licenses: new Models.LicenseRepository(licenses),
        properties: properties([["osless:package:type", e.p.type]]),
      }),
    );
  }
  components.sort((x, y) => byCodeUnits(x.bomRef.value ?? "", y.bomRef.value ?? ""));

  const tool = new Models.Component(Enums.ComponentType.Application, "osless", {
    ...(opts.toolVersion ? { version: opts.toolVersion } : {}),
  });
  const bom = new Models.Bom({
    serialNumber,
    metadata: new Models.Metadata({
      timestamp: opts.timestamp ?? new Date(),
      tools: new Models.Tools({ components: new Models.ComponentRepository([tool]) }),
      component: imageComponent,
    }),
    components: new Models.ComponentRepository(components),
  });
  const factory = new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6);
  const doc = factory.makeForBom().normalize(bom, { sortLists: false });
  delete doc.dependencies;
  return JSON.stringify(doc, null, 2);
}
