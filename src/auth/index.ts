/** Registry credentials: the docker config file (or podman's auth.json), credHelpers and credsStore. */
export { authFilePath } from "./config.ts";
export {
  type AuthOptions,
  type Credential,
  credentialKey,
  lookupCredentials,
  parseCreds,
  removeCredentials,
  storeCredentials,
} from "./credentials.ts";
