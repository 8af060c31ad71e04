/**
 * The one command after `npm install`: creates `.dev.vars` with fresh keys when missing, applies
 * the D1 migrations locally, runs `wrangler dev`, loads the demo once the engine answers, then
 * prints where everything is. Ctrl-C stops wrangler and exits.
 *
 *   npm start            (PORT overrides the default 8787)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { loadDemo } from "./demo";

const REPO_ROOT = path.resolve(import.meta.dirname, "..");
const SHARED_DIR = path.resolve(REPO_ROOT, "..", "shared");
const DEV_VARS_FILE = path.join(REPO_ROOT, ".dev.vars");
const DATABASE_NAME = "parcours";
const DEFAULT_PORT = 8787;
const SECRET_NAMES = ["WRITE_KEY", "ADMIN_KEY", "TRACKING_SECRET"] as const;
const SECRET_BYTES = 24;
const HEALTH_TIMEOUT_MS = 90_000;
const HEALTH_POLL_INTERVAL_MS = 250;
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;

type SecretName = (typeof SECRET_NAMES)[number];
type Secrets = Record<SecretName, string>;

/** The wrangler CLI of this repo's dependencies, run by the current Node. */
export function wranglerCommand(args: string[]): { command: string; args: string[] } {
  const require = createRequire(import.meta.url);
  const wranglerDir = path.dirname(require.resolve("wrangler/package.json"));
  return {
    command: process.execPath,
    args: [path.join(wranglerDir, "bin", "wrangler.js"), ...args],
  };
}

/**
 * Applies the migrations of `migrations/` to the local D1 database, into `persistTo` when given
 * (as `wrangler dev --persist-to` would read it). CI=true answers wrangler's confirmation.
 */
export async function applyLocalMigrations(
  options: { persistTo?: string; log?: (line: string) => void } = {},
): Promise<void> {
  const args = ["d1", "migrations", "apply", DATABASE_NAME, "--local"];
  if (options.persistTo !== undefined) args.push("--persist-to", options.persistTo);
  const wrangler = wranglerCommand(args);
  const child = spawn(wrangler.command, wrangler.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });

  const output: string[] = [];
  const collect = (line: string) => {
    output.push(line);
    options.log?.(line);
  };
  forwardLines(child, collect);
  const exitCode = await exitOf(child);
  if (exitCode !== 0) {
    throw new Error(`wrangler d1 migrations apply exited with ${exitCode}:\n${output.join("\n")}`);
  }
}

/** Reads `.dev.vars`, adds a random value for each missing secret, and answers all three. */
async function ensureDevVars(): Promise<{ secrets: Secrets; added: SecretName[] }> {
  const existing = await readFile(DEV_VARS_FILE, "utf8").catch(() => "");
  const values = parseDevVars(existing);

  const added = SECRET_NAMES.filter((name) => !values.get(name));
  if (added.length > 0) {
    const lines = added.map((name) => `${name}=${randomBytes(SECRET_BYTES).toString("base64url")}`);
    const separator = existing === "" || existing.endsWith("\n") ? "" : "\n";
    await writeFile(DEV_VARS_FILE, `${existing}${separator}${lines.join("\n")}\n`, { mode: 0o600 });
  }

  const merged = parseDevVars(await readFile(DEV_VARS_FILE, "utf8"));
  // Every name was either present or just written, so each lookup has a value.
  const secrets = Object.fromEntries(
    SECRET_NAMES.map((name) => [name, merged.get(name)]),
  ) as Secrets;
  return { secrets, added };
}

/** `KEY=value` lines as dotenv reads them; quotes around a value are dropped. */
function parseDevVars(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match?.[1]) continue;
    values.set(match[1], (match[2] ?? "").replace(/^(["'])(.*)\1$/, "$2"));
  }
  return values;
}

/** Prefixes each line a child writes and hands it on. */
function forwardLines(child: ChildProcess, write: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on("line", write);
  }
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Polls `/health` until it answers 200; fails early when wrangler exits first. */
async function waitForHealth(input: { baseUrl: string; wrangler: ChildProcess }): Promise<void> {
  const deadlineMs = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadlineMs) {
    if (input.wrangler.exitCode !== null || input.wrangler.signalCode !== null) {
      throw new Error("wrangler dev exited before the engine answered");
    }
    const healthy = await fetch(new URL("/health", input.baseUrl), {
      signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS),
    }).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_INTERVAL_MS));
  }
  throw new Error(`${input.baseUrl}/health did not answer within ${HEALTH_TIMEOUT_MS / 1000} s`);
}

function readyBanner(input: { baseUrl: string; secrets: Secrets }): string {
  const { baseUrl, secrets } = input;
  const contactId = `demo-${randomBytes(3).toString("hex")}`;
  const batch = JSON.stringify({
    batch: [
      {
        type: "identify",
        userId: contactId,
        traits: { email: `${contactId}@example.test`, first_name: "Ada" },
      },
      {
        type: "track",
        userId: contactId,
        event: "Trial Booked",
        properties: { trial_date: "2026-03-02" },
      },
    ],
  });
  return [
    "",
    "Parcours is ready.",
    "",
    `  engine     ${baseUrl}`,
    `  dashboard  ${baseUrl}/?key=${encodeURIComponent(secrets.ADMIN_KEY)}`,
    `  outbox     ${baseUrl}/api/outbox`,
    `  write key  ${secrets.WRITE_KEY}    (HTTP Basic user name on /v1/*)`,
    `  admin key  ${secrets.ADMIN_KEY}    (Authorization: Bearer on /api/*)`,
    "",
    "Book a trial day for a contact with an email, then read what was sent:",
    "",
    `  curl -s -u '${secrets.WRITE_KEY}:' -H 'content-type: application/json' \\`,
    `    ${baseUrl}/v1/batch -d '${batch}'`,
    "",
    "  # a second later:",
    `  curl -s -H 'authorization: Bearer ${secrets.ADMIN_KEY}' \\`,
    `    '${baseUrl}/api/outbox?contact=${contactId}'`,
    "",
    "Replay a day of real purchases (121 order confirmations for this one):",
    "",
    `  ${baseUrl === `http://localhost:${DEFAULT_PORT}` ? "" : `PARCOURS_URL=${baseUrl} `}npm run replay -- ../shared/data/uci-online-retail/by-day/2010-12-01.csv`,
    "",
    "Ctrl-C stops the engine.",
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  const port = Number(process.env.PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    console.error(`start: PORT must be a port number, got "${process.env.PORT}"`);
    return 2;
  }
  const baseUrl = `http://localhost:${port}`;

  const { secrets, added } = await ensureDevVars();
  console.log(
    added.length > 0
      ? `start: wrote ${added.join(", ")} to .dev.vars`
      : "start: using the keys in .dev.vars",
  );

  console.log("start: applying D1 migrations locally");
  await applyLocalMigrations({ log: (line) => console.log(`[migrations] ${line}`) });

  const wrangler = wranglerCommand([
    "dev",
    "--port",
    String(port),
    // Tracking, unsubscribe and view links must point at this engine, whatever its port.
    "--var",
    `PUBLIC_URL:http://localhost:${port}`,
    "--show-interactive-dev-session=false",
  ]);
  const child = spawn(wrangler.command, wrangler.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  forwardLines(child, (line) => console.log(`[wrangler] ${line}`));
  const exited = exitOf(child);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`start: ${signal}, stopping wrangler`);
    child.kill(signal);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  try {
    await waitForHealth({ baseUrl, wrangler: child });
    const summary = await loadDemo({
      baseUrl,
      adminKey: secrets.ADMIN_KEY,
      sharedDir: SHARED_DIR,
      log: (line) => console.log(`demo: ${line}`),
    });
    console.log(
      `demo: ${summary.published} published, ${summary.unchanged} unchanged, ` +
        `${summary.rejected} rejected`,
    );
    console.log(readyBanner({ baseUrl, secrets }));
  } catch (error) {
    if (!stopping) {
      console.error(`start: ${(error as Error).message}`);
      stop("SIGTERM");
      await exited;
      return 1;
    }
  }

  const exitCode = await exited;
  return stopping ? 0 : exitCode;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
