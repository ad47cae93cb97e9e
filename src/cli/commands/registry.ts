/**
 * Registry commands: pull, push, copy, login, logout. Flags follow docker/podman/skopeo (`--platform`,
 * `--tls-verify`, `--creds`, `--authfile`, `-u`/`-p`/`--password-stdin`); each action maps them to one library call.
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { OslessError } from "../../errors.ts";
import type { Store } from "../../store/layout.ts";
import type { Io } from "../output/report.ts";

export interface CommandContext {
  io: Io;
  store: () => Promise<Store>;
  act: <A extends unknown[]>(
    fn: (...args: A) => Promise<number | undefined>,
  ) => (...args: A) => Promise<void>;
}

interface RemoteFlags {
  tlsVerify?: string | boolean | undefined;
  creds?: string | undefined;
  authfile?: string | undefined;
}

type Flags = Record<string, string | boolean | undefined>;

interface Configurable {
  addOption(option: Option): unknown;
  option(flags: string, description: string): unknown;
}

/** A string flag's value (commander gives `true` for a flag given without its value only to boolean flags). */
function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function remoteFlags<T extends Configurable>(cmd: T): T {
  (cmd as unknown as Command)
    .addOption(
      new Option(
        "--tls-verify <bool>",
        "require https with a valid certificate (false: allow plain http and any certificate; loopback registries always may use http)",
      ).default("true"),
    )
    .option("--creds <user:password>", "credentials for the registry (instead of the auth file)")
    .option(
      "--authfile <path>",
      "auth file (default: $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json)",
    );
  return cmd;
}

export async function remoteOptions(flags: RemoteFlags) {
  const { parseCreds } = await import("../../auth/index.ts");
  const tls = String(flags.tlsVerify ?? "true").toLowerCase();
  if (tls !== "true" && tls !== "false") {
    throw new OslessError("E_USAGE", `--tls-verify: "${flags.tlsVerify}" is not true or false`, {
      hint: "write --tls-verify=false",
    });
  }
  const insecure = (process.env.OSLESS_INSECURE_REGISTRIES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    tlsVerify: tls === "true",
    insecureRegistries: insecure,
    creds: flags.creds !== undefined ? parseCreds(flags.creds) : undefined,
    auth: flags.authfile !== undefined ? { authFile: flags.authfile } : undefined,
  };
}

/** Run `fn` with an AbortSignal that Ctrl-C/SIGTERM trips; an interrupted run becomes E_INTERRUPTED. */
export async function interruptible<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await fn(ac.signal);
  } catch (e) {
    if (interrupted === undefined) throw e;
    throw new OslessError("E_INTERRUPTED", `interrupted (${interrupted}): ${what}`, {
      cause: e,
      details: { signal: interrupted },
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** podman refuses --platform with --all-platforms: one says which platform, the other says all of them. */
function exclusivePlatformFlags(opts: Flags): void {
  if (opts.allPlatforms && opts.platform !== undefined) {
    throw new OslessError("E_USAGE", "--platform and --all-platforms cannot be used together", {
      hint: "drop one: --platform picks one platform, --all-platforms takes every one",
    });
  }
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new OslessError("E_USAGE", `${flag}: "${v}" is not a whole number from 1 to 64`);
  }
  return n;
}

export function registerRegistryCommands(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;

  remoteFlags(
    program
      .command("pull")
      .description("Pull an image from a registry into the store (like docker pull)")
      .argument(
        "<reference>",
        'image reference: "debian", "debian:bookworm", "ghcr.io/o/app:1", "x@sha256:…"',
      )
      .option(
        "--platform <os/arch[/variant]>",
        "platform to pull from a multi-platform image (default: this host's)",
      )
      .option("-a, --all-platforms", "pull every platform of a multi-platform image (the whole index)")
      .option("--concurrency <n>", "layers downloaded at once (default 3)")
      .option("-q, --quiet", "print only the image name")
      .option("--json", "print the result as JSON"),
  )
    .addHelpText(
      "after",
      `
Blobs already in the store are skipped; every byte is checked against its digest while it streams in. A broken
connection is resumed where it stopped, and an interrupted pull is continued by the next one.

Examples:
  osless pull debian:bookworm
  osless pull --platform linux/arm64 alpine
  osless pull 127.0.0.1:5000/hello            # plain http is fine for loopback registries
  osless pull --tls-verify=false myreg.lan:5000/app:1
  osless pull -q --json ghcr.io/owner/app@sha256:<digest> | jq .id`,
    )
    .action(
      act(async (reference: string, opts: Flags) => {
        const { pullImage } = await import("../../transfer/pull.ts");
        const { parsePlatform } = await import("../../spec/platform.ts");
        const { parseReference } = await import("../../reference/index.ts");
        const { createProgress } = await import("../output/progress.ts");
        const { printJson } = await import("../output/report.ts");
        const s = await ctx.store();
        const remote = await remoteOptions(opts);
        exclusivePlatformFlags(opts);
        const ref = parseReference(reference);
        const quiet = Boolean(opts.quiet || opts.json);
        if (!quiet) io.stderr.write(`${ref.tag ?? ref.digest}: Pulling from ${ref.path}\n`);
        const progress = createProgress(io.stderr, !quiet);
        const result = await interruptible(
          "the partial download is kept; pull again to resume",
          async (signal) => {
            try {
              return await pullImage(s, reference, {
                ...remote,
                platform: str(opts.platform) ? parsePlatform(opts.platform as string) : undefined,
                allPlatforms: Boolean(opts.allPlatforms),
                concurrency: str(opts.concurrency)
                  ? positiveInt(opts.concurrency as string, "--concurrency")
                  : undefined,
                events: progress.sink,
                signal,
              });
            } finally {
              progress.stop();
            }
          },
        );
        if (opts.json) {
          printJson(io, { ...result, upToDate: result.upToDate });
          return 0;
        }
        const familiar = parseReference(result.name).familiar();
        if (!opts.quiet) {
          io.stderr.write(`Digest: ${result.digest}\n`);
          io.stderr.write(
            result.upToDate
              ? `Status: Image is up to date for ${familiar}\n`
              : `Status: Downloaded newer image for ${familiar}\n`,
          );
        }
        io.stdout.write(`${result.name}\n`);
        return 0;
      }),
    );

  remoteFlags(
    program
      .command("push")
      .description("Push an image from the store to a registry (like docker push)")
      .argument("<image>", "name, ID or digest of an image in the store")
      .argument("[destination]", "where to push: REGISTRY/REPOSITORY[:TAG] (default: the image's own name)")
      .option("--concurrency <n>", "blobs uploaded at once (default 4)")
      .option("--chunk-size <size>", "upload in chunks of this size (PATCH) instead of one request per blob")
      .option("-q, --quiet", "print only the pushed digest")
      .option("--json", "print the result as JSON"),
  )
    .addHelpText(
      "after",
      `
Blobs the registry already has are skipped; blobs of images pulled from another repository of the same
registry are mounted instead of uploaded. The manifest goes last, so a failed push never leaves a tag pointing
at missing content.

Examples:
  osless push 127.0.0.1:5000/hello:1
  osless push hello 127.0.0.1:5000/tools/hello:latest
  osless push --creds user:secret app:1 registry.example.com/team/app:1`,
    )
    .action(
      act(async (image: string, destination: string | undefined, opts: Flags) => {
        const { pushImage } = await import("../../transfer/push.ts");
        const { parseReference } = await import("../../reference/index.ts");
        const { parseSize } = await import("../args.ts");
        const { createProgress } = await import("../output/progress.ts");
        const { printJson } = await import("../output/report.ts");
        const s = await ctx.store();
        const remote = await remoteOptions(opts);
        const quiet = Boolean(opts.quiet || opts.json);
        const destName =
          destination ?? (await import("../../store/images.ts").then((m) => m.resolveImage(s, image))).name;
        if (!quiet && destName) {
          io.stderr.write(`The push refers to repository [${parseReference(destName).name}]\n`);
        }
        const progress = createProgress(io.stderr, !quiet);
        const result = await interruptible(
          "the registry keeps what was uploaded; push again to finish",
          async (signal) => {
            try {
              return await pushImage(s, image, destination, {
                ...remote,
                concurrency: str(opts.concurrency)
                  ? positiveInt(opts.concurrency as string, "--concurrency")
                  : undefined,
                chunkSize: str(opts.chunkSize)
                  ? parseSize(opts.chunkSize as string, "--chunk-size")
                  : undefined,
                events: progress.sink,
                signal,
              });
            } finally {
              progress.stop();
            }
          },
        );
        if (opts.json) printJson(io, result);
        else if (opts.quiet) io.stdout.write(`${result.digest}\n`);
        else {
          const ref = parseReference(result.name);
          io.stdout.write(`${ref.tag ?? ref.digest}: digest: ${result.digest} size: ${result.size}\n`);
        }
        return 0;
      }),
    );

  remoteFlags(
    program
      .command("copy")
      .alias("cp")
      .description("Copy an image between registries, archives, OCI layouts and the store (like skopeo copy)")
      .argument(
        "<source>",
        "docker://REF, oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name], or a store image",
      )
      .argument(
        "<destination>",
        "docker://REF, oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name], or a store name",
      )
      .option(
        "--platform <os/arch[/variant]>",
        "platform to copy from a multi-platform image (default: this host's)",
      )
      .option("-a, --all-platforms", "copy every platform (the whole index)")
      .option("-q, --quiet", "no progress output")
      .option("--json", "print the result as JSON"),
  )
    .addHelpText(
      "after",
      `
A name without a transport is an image in the osless store.

Examples:
  osless copy docker://127.0.0.1:5000/hello:1 oci:./hello-layout:1
  osless copy oci-archive:app.tar docker://registry.example.com/team/app:1
  osless copy docker://debian:bookworm docker-archive:debian.tar:debian:bookworm
  osless copy docker://127.0.0.1:5000/app:1 app:1          # same as pull, under another name`,
    )
    .action(
      act(async (source: string, destination: string, opts: Flags) => {
        const { copyImage } = await import("../../transfer/copy.ts");
        const { parsePlatform } = await import("../../spec/platform.ts");
        const { createProgress } = await import("../output/progress.ts");
        const { printJson } = await import("../output/report.ts");
        const s = await ctx.store();
        const remote = await remoteOptions(opts);
        exclusivePlatformFlags(opts);
        const progress = createProgress(io.stderr, !opts.quiet && !opts.json);
        const result = await interruptible("the copy is incomplete; run it again", async (signal) => {
          try {
            return await copyImage(s, source, destination, {
              ...remote,
              platform: str(opts.platform) ? parsePlatform(opts.platform as string) : undefined,
              allPlatforms: Boolean(opts.allPlatforms),
              events: progress.sink,
              signal,
            });
          } finally {
            progress.stop();
          }
        });
        if (opts.json) printJson(io, result);
        else if (!opts.quiet) io.stdout.write(`Copied ${source} to ${destination} (${result.digest})\n`);
        return 0;
      }),
    );

  program
    .command("login")
    .description("Log in to a registry: check the credentials and store them (like docker login)")
    .argument("[registry]", "registry host[:port] (default: docker.io)", "docker.io")
    .option("-u, --username <user>", "user name")
    .option("-p, --password <password>", "password (visible to other users in ps; prefer --password-stdin)")
    .option("--password-stdin", "read the password from stdin")
    .option(
      "--authfile <path>",
      "auth file to write (default: $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json)",
    )
    .addOption(new Option("--tls-verify <bool>", "require https with a valid certificate").default("true"))
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Credentials go where docker keeps them: the credential helper named in the auth file (credHelpers/credsStore),
else the file itself (base64, mode 0600).

Examples:
  osless login -u alice 127.0.0.1:5000
  echo "$TOKEN" | osless login ghcr.io -u alice --password-stdin`,
    )
    .action(
      act(async (registry: string, opts: Flags) => {
        const { storeCredentials, credentialKey } = await import("../../auth/index.ts");
        const { registryClient } = await import("../../transfer/remote.ts");
        const { printJson } = await import("../output/report.ts");
        const domain = registryDomain(registry);
        let username: string | undefined = str(opts.username);
        let password: string | undefined = str(opts.password);
        if (opts.passwordStdin) {
          if (password !== undefined)
            throw new OslessError("E_USAGE", "--password and --password-stdin are exclusive");
          if (username === undefined) throw new OslessError("E_USAGE", "--password-stdin needs --username");
          password = (await readAll(process.stdin)).replace(/\r?\n$/, "");
        }
        if (username === undefined) username = await prompt("Username: ", false);
        if (password === undefined) password = await prompt("Password: ", true);
        if (!username || !password) {
          throw new OslessError("E_USAGE", "a user name and a password are needed", {
            hint: "pass -u USER and --password-stdin (or -p)",
          });
        }
        const remote = await remoteOptions({ tlsVerify: opts.tlsVerify });
        const client = registryClient(domain, { ...remote, creds: { username, password } });
        try {
          await client.checkLogin();
        } finally {
          await client.close();
        }
        const where = await storeCredentials(
          domain,
          { username, password },
          str(opts.authfile) ? { authFile: str(opts.authfile) } : {},
        );
        if (opts.json) printJson(io, { registry: credentialKey(domain), storedIn: where });
        else io.stdout.write(`Login Succeeded (credentials stored in ${where})\n`);
        return 0;
      }),
    );

  program
    .command("logout")
    .description("Remove the stored credentials of a registry (like docker logout)")
    .argument("[registry]", "registry host[:port] (default: docker.io)", "docker.io")
    .option(
      "--authfile <path>",
      "auth file (default: $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json)",
    )
    .option("--json", "print the result as JSON")
    .action(
      act(async (registry: string, opts: Flags) => {
        const { removeCredentials, credentialKey } = await import("../../auth/index.ts");
        const { printJson } = await import("../output/report.ts");
        const domain = registryDomain(registry);
        const removed = await removeCredentials(
          domain,
          str(opts.authfile) ? { authFile: str(opts.authfile) } : {},
        );
        if (opts.json) printJson(io, { registry: credentialKey(domain), removed });
        else
          io.stdout.write(
            removed ? `Removed login credentials for ${domain}\n` : `Not logged in to ${domain}\n`,
          );
        return 0;
      }),
    );
}

/** "https://ghcr.io/", "ghcr.io", "localhost:5000" -> the domain as references write it. */
function registryDomain(input: string): string {
  return input.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** Ask on the terminal (the password without echo); an error when stdin is not a terminal. */
async function prompt(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new OslessError(
      "E_USAGE",
      `no ${secret ? "password" : "user name"} given and stdin is not a terminal`,
      {
        hint: "pass -u USER and --password-stdin",
      },
    );
  }
  const readline = await import("node:readline");
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (secret) {
    // Echo nothing while the password is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.startsWith(question)) process.stderr.write(question);
    };
  }
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
    if (secret) process.stderr.write("\n");
  }
}
