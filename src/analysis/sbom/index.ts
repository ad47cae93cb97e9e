/**
 * Software bills of materials from an analysis: CycloneDX 1.6 JSON (cyclonedx.ts) with package URLs (purl.ts)
 * and licences in CycloneDX's forms (license.ts). Importing this module loads neither @cyclonedx/cyclonedx-library
 * nor packageurl-js: each is loaded on first use.
 */
export { CYCLONEDX_SPEC_VERSION, type CycloneDxOptions, toCycloneDx } from "./cyclonedx.ts";
export { type LicenseChoice, licenseChoices, type SpdxIdLookup, spdxExpression } from "./license.ts";
export {
  distroQualifier,
  type PurlOs,
  type PurlPackage,
  packagePurl,
  packageUrlClass,
  purlNamespace,
  splitEpoch,
} from "./purl.ts";
