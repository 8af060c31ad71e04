/**
 * The worker as `wrangler dev` runs it, for the end-to-end tests: real D1, Durable Objects,
 * alarms and queues, on its own port, storage and dev registry in a fresh temporary directory.
 * Also the bounded polls those tests read the engine with, since its work happens after answering.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { unstable_startWorker } from "wrangler";
import { loadDemo, type DemoSummary } from "../../scripts/demo";
import { applyLocalMigrations } from "../../scripts/start";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const SHARED_DIR = path.resolve(REPO_ROOT, "../shared");
const HEALTH_TIMEOUT_MS = 30_000;
const HEALTH_POLL_INTERVAL_MS = 100;

export interface LocalEngineOptions {
  /**
   * Prefix of the keys, the tracking secret and the temporary directory, so that two suites
   * never share one by accident; defaults to `e2e` (keys `e2e-write-key`, `e2e-admin-key`).
   */
  label?: string;
}

export interface LocalEngine {
  /** Where the worker answers, e.g. `http://127.0.0.1:41234`. */
  baseUrl: string;
  writeKey: string;
  adminKey: string;
  /** A request to the engine with the admin key; a string body is sent as JSON. */
  admin(requestPath: string, init?: RequestInit): Promise<Response>;
  /** Posts Segment calls to `/v1/batch` with the write key, as an app backend would. */
  batch(calls: unknown[]): Promise<Response>;
  /** Saves and publishes the demo templates, segments and scenarios through the admin API. */
  loadDemo(): Promise<DemoSummary>;
  /** Stops the worker and deletes its storage. */
  dispose(): Promise<void>;
}

/**
 * Applies the migrations to a fresh directory, starts the worker there without file watching (an
 * edit elsewhere in the repo must not reload it and drop the local queue) and waits for
 * `/health`. Nothing is left behind when start-up fails.
 */
export async function startLocalEngine(options: LocalEngineOptions = {}): Promise<LocalEngine> {
  const label = options.label ?? "e2e";
  const writeKey = `${label}-write-key`;
  const adminKey = `${label}-admin-key`;
  const persistDir = await mkdtemp(path.join(tmpdir(), `parcours-${label}-`));
  const removeStorage = () => rm(persistDir, { recursive: true, force: true });

  let worker: Awaited<ReturnType<typeof unstable_startWorker>> | undefined;
  let baseUrl: string;
  try {
    await applyLocalMigrations({ persistTo: persistDir });
    worker = await unstable_startWorker({
      config: path.join(REPO_ROOT, "wrangler.toml"),
      bindings: {
        WRITE_KEY: { type: "plain_text", value: writeKey },
        ADMIN_KEY: { type: "plain_text", value: adminKey },
        TRACKING_SECRET: { type: "plain_text", value: `${label}-tracking-secret` },
        LOG_LEVEL: { type: "plain_text", value: "silent" },
      },
      sendMetrics: false,
      dev: {
        persist: persistDir,
        registry: path.join(persistDir, "registry"),
        server: { hostname: "127.0.0.1", port: 0 },
        inspector: false,
        watch: false,
        logLevel: "warn",
      },
    });
    baseUrl = (await worker.url).origin;
    await waitForHealth(baseUrl);
  } catch (error) {
    await worker?.dispose();
    await removeStorage();
    throw error;
  }
  const running = worker;

  const admin = (requestPath: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${adminKey}`);
    if (typeof init.body === "string" && !headers.has("content-type")) {
      headers.set("content-type", "application/json");
    }
    return fetch(new URL(requestPath, baseUrl), { ...init, headers });
  };

  return {
    baseUrl,
    writeKey,
    adminKey,
    admin,
    batch: (calls) =>
      fetch(new URL("/v1/batch", baseUrl), {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ batch: calls }),
      }),
    loadDemo: () => loadDemo({ baseUrl, adminKey, sharedDir: SHARED_DIR }),
    async dispose() {
      try {
        await running.dispose();
      } finally {
        await removeStorage();
      }
    },
  };
}

/** A build that fails leaves requests hanging; this turns that into one clear failure. */
async function waitForHealth(baseUrl: string): Promise<void> {
  const healthy = () =>
    fetch(new URL("/health", baseUrl), { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) }).then(
      (response) => response.ok,
      () => false,
    );

  await pollUntil(healthy, {
    until: (ok) => ok,
    timeoutMs: HEALTH_TIMEOUT_MS,
    intervalMs: HEALTH_POLL_INTERVAL_MS,
    describe: () =>
      `the worker did not answer /health within ${HEALTH_TIMEOUT_MS} ms (build error?)`,
  });
}

export interface PollOptions<T> {
  /** True once the value read is the one awaited. */
  until: (value: T) => boolean;
  timeoutMs: number;
  intervalMs: number;
  /** The message of the timeout error, from the last value read; names what was awaited. */
  describe?: (last: T) => string;
}

/**
 * Reads every `intervalMs` until `until` holds and answers that value; throws once `timeoutMs`
 * has passed without it, saying what was last read.
 */
export async function pollUntil<T>(read: () => Promise<T>, options: PollOptions<T>): Promise<T> {
  const deadlineMs = Date.now() + options.timeoutMs;

  let value = await read();
  while (!options.until(value)) {
    if (Date.now() > deadlineMs) {
      const message =
        options.describe?.(value) ??
        `not reached within ${options.timeoutMs} ms; last read: ${JSON.stringify(value)}`;
      throw new Error(message);
    }
    await sleep(options.intervalMs);
    value = await read();
  }
  return value;
}

export interface SteadyPollOptions {
  /** How long the length must hold to count as settled. */
  steadyForMs: number;
  timeoutMs: number;
  intervalMs: number;
}

/**
 * Reads every `intervalMs` until the length of what is read has held for `steadyForMs`, or
 * `timeoutMs` has passed; answers the last read either way, for the caller to assert on.
 */
export async function pollUntilSteady<T>(
  read: () => Promise<T[]>,
  options: SteadyPollOptions,
): Promise<T[]> {
  const deadlineMs = Date.now() + options.timeoutMs;

  let values = await read();
  let steadySinceMs = Date.now();
  while (Date.now() - steadySinceMs < options.steadyForMs && Date.now() < deadlineMs) {
    await sleep(options.intervalMs);
    const next = await read();
    if (next.length !== values.length) steadySinceMs = Date.now();
    values = next;
  }
  return values;
}

function sleep(durationMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, durationMs));
}
