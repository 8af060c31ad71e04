/**
 * Replays the real data sets into a running Parcours through the real Segment Node client, so
 * the ingestion API is exercised exactly as a customer's backend would call it.
 *
 *   npm run replay -- <folder or file> [--dry-run]
 *
 * PARCOURS_URL (default http://localhost:8787) names the engine; the write key comes from
 * PARCOURS_WRITE_KEY, else `WRITE_KEY=` in the repo's `.dev.vars`.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Analytics } from "@segment/analytics-node";
import { ottoCallsFromJsonl } from "../src/replay/otto";
import { expectedOrderConfirmations, retailCallsFromCsv } from "../src/replay/retail";
import type { SegmentCall } from "../src/replay/retail";

export const DEFAULT_ENGINE_URL = "http://localhost:8787";
const BATCH_PATH = "/v1/batch";
const CALLS_PER_BATCH = 100;
const REACHABILITY_TIMEOUT_MS = 3_000;
const HTTP_REQUEST_TIMEOUT_MS = 15_000;
const REPO_ROOT = path.resolve(import.meta.dirname, "..");

export interface ReplayOptions {
  /** Files or folders; folders are searched recursively for `*.csv` and `*.jsonl`. */
  paths: string[];
  engineUrl: string;
  /** Required unless `dryRun`. */
  writeKey?: string;
  dryRun: boolean;
  showProgress: boolean;
}

export interface ReplaySummary {
  files: number;
  calls: number;
  identifies: number;
  orders: number;
  cancellations: number;
  anonymousEvents: number;
  expectedOrderConfirmations: number;
  elapsedMs: number;
}

interface ReplayFile {
  filePath: string;
  calls: SegmentCall[];
  expectedOrderConfirmations: number;
}

/** A replay that cannot go on; the CLI prints the message alone and exits non-zero. */
export class ReplayError extends Error {
  override name = "ReplayError";
}

/** Parses every file, then (unless dry-run) posts all calls in order and waits for delivery. */
export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const startedAtMs = performance.now();
  const files = await loadFiles(options.paths);

  const summary = summarize(files);
  if (!options.dryRun) {
    if (!options.writeKey) throw new ReplayError("no write key given");
    await assertReachable(options.engineUrl);
    await post({
      calls: files.flatMap((file) => file.calls),
      engineUrl: options.engineUrl,
      writeKey: options.writeKey,
      showProgress: options.showProgress,
    });
  }
  return { ...summary, elapsedMs: performance.now() - startedAtMs };
}

async function loadFiles(paths: string[]): Promise<ReplayFile[]> {
  const filePaths: string[] = [];
  for (const given of paths) filePaths.push(...(await replayableFiles(given)));
  if (filePaths.length === 0) {
    throw new ReplayError(`no *.csv or *.jsonl file in ${paths.join(", ")}`);
  }

  const files: ReplayFile[] = [];
  for (const filePath of filePaths) {
    const text = await readFile(filePath, "utf8");
    try {
      files.push(
        filePath.endsWith(".csv")
          ? {
              filePath,
              calls: retailCallsFromCsv(text),
              expectedOrderConfirmations: expectedOrderConfirmations(text),
            }
          : { filePath, calls: ottoCallsFromJsonl(text), expectedOrderConfirmations: 0 },
      );
    } catch (error) {
      throw new ReplayError(`${filePath}: ${(error as Error).message}`);
    }
  }
  return files;
}

async function replayableFiles(given: string): Promise<string[]> {
  const absolute = path.resolve(given);
  const stats = await stat(absolute).catch(() => {
    throw new ReplayError(`${given}: no such file or folder`);
  });
  if (stats.isFile()) {
    if (!isReplayable(absolute)) throw new ReplayError(`${given}: expected a .csv or .jsonl file`);
    return [absolute];
  }

  const entries = await readdir(absolute, { recursive: true });
  return entries
    .filter(isReplayable)
    .sort()
    .map((entry) => path.join(absolute, entry));
}

function isReplayable(filePath: string): boolean {
  return filePath.endsWith(".csv") || filePath.endsWith(".jsonl");
}

function summarize(files: ReplayFile[]): Omit<ReplaySummary, "elapsedMs"> {
  const calls = files.flatMap((file) => file.calls);
  return {
    files: files.length,
    calls: calls.length,
    identifies: calls.filter((call) => call.type === "identify").length,
    orders: calls.filter((call) => call.event === "Order Completed").length,
    cancellations: calls.filter((call) => call.event === "Order Cancelled").length,
    anonymousEvents: calls.filter((call) => call.userId === undefined).length,
    expectedOrderConfirmations: files.reduce(
      (sum, file) => sum + file.expectedOrderConfirmations,
      0,
    ),
  };
}

/** Fails fast with a readable message instead of letting the client back off for minutes. */
async function assertReachable(engineUrl: string): Promise<void> {
  try {
    await fetch(engineUrl, { signal: AbortSignal.timeout(REACHABILITY_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new ReplayError(`Parcours is not reachable at ${engineUrl} (${cause}); start it first`);
  }
}

/**
 * Sends one batch at a time and waits for it before the next, so the engine receives calls in
 * time order (an identify always lands before its customer's first order) and a rejected batch
 * stops the replay instead of being followed by thousands more.
 */
async function post(input: {
  calls: SegmentCall[];
  engineUrl: string;
  writeKey: string;
  showProgress: boolean;
}): Promise<void> {
  const analytics = new Analytics({
    writeKey: input.writeKey,
    host: input.engineUrl,
    path: BATCH_PATH,
    flushAt: CALLS_PER_BATCH,
    maxRetries: 3,
    httpRequestTimeout: HTTP_REQUEST_TIMEOUT_MS,
  });
  // The client retries 5xx and network errors itself; only the answer that ended the retries
  // matters, so a later success clears an earlier failure.
  let lastRefusal: string | undefined;
  analytics.on("http_response", (response) => {
    lastRefusal =
      response.status >= 400
        ? describeRejection(response.status, response.statusText, response.url)
        : undefined;
  });
  let deliveryError: Error | undefined;
  analytics.on("error", (error) => {
    deliveryError ??=
      error.reason instanceof Error ? error.reason : new Error(String(error.reason));
  });
  const progress = input.showProgress ? createProgressBar(input.calls.length) : undefined;

  try {
    for (let start = 0; start < input.calls.length; start += CALLS_PER_BATCH) {
      const chunk = input.calls.slice(start, start + CALLS_PER_BATCH);
      for (const call of chunk) send(analytics, call);
      // Resolves when the client's pending calls drain, i.e. this batch got its answer.
      await analytics.flush();
      progress?.increment(chunk.length);
      if (deliveryError !== undefined) break;
    }
  } finally {
    progress?.stop();
    // Also stops the client's flush timer so a failed run exits at once.
    await analytics.closeAndFlush();
  }

  if (deliveryError !== undefined) {
    throw new ReplayError(
      lastRefusal ?? `delivery to ${input.engineUrl} failed: ${deliveryError.message}`,
    );
  }
}

function describeRejection(status: number, statusText: string, url: string): string {
  const answer = `Parcours answered ${status} ${statusText} to POST ${url}`;
  if (status === 401 || status === 403) {
    return `${answer}: the write key was refused (PARCOURS_WRITE_KEY or WRITE_KEY in .dev.vars)`;
  }
  if (status === 400) return `${answer}: the engine rejected the batch as invalid`;
  return answer;
}

/** Hands one call to the client; delivery failures surface through its `error` event. */
function send(analytics: Analytics, call: SegmentCall): void {
  const common = { timestamp: call.timestamp, messageId: call.messageId, context: call.context };
  const identity = identityOf(call);
  switch (call.type) {
    case "identify":
      analytics.identify({ ...common, ...identity, traits: call.traits });
      return;
    case "track":
      analytics.track({
        ...common,
        ...identity,
        event: call.event ?? "",
        properties: call.properties,
      });
      return;
    default: {
      const unknown: never = call.type;
      throw new Error(`unknown call type ${String(unknown)}`);
    }
  }
}

function identityOf(call: SegmentCall): { userId: string } | { anonymousId: string } {
  if (call.userId !== undefined) return { userId: call.userId };
  if (call.anonymousId !== undefined) return { anonymousId: call.anonymousId };
  throw new Error(`call ${call.messageId} has neither userId nor anonymousId`);
}

interface ProgressBar {
  increment(step: number): void;
  stop(): void;
}

function createProgressBar(total: number): ProgressBar {
  // cli-progress ships no types and @types/cli-progress is not a dependency; the two methods
  // used here are the whole surface this script relies on.
  const cliProgress = createRequire(import.meta.url)("cli-progress") as {
    SingleBar: new (
      options: object,
      preset: object,
    ) => ProgressBar & {
      start(total: number, value: number): void;
    };
    Presets: { shades_classic: object };
  };
  const bar = new cliProgress.SingleBar(
    { format: "replay [{bar}] {percentage}% | {value}/{total} calls | {duration}s" },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}

/** PARCOURS_WRITE_KEY, else `WRITE_KEY=` in `.dev.vars` at the repo root. */
export async function resolveWriteKey(): Promise<string | undefined> {
  const fromEnv = process.env.PARCOURS_WRITE_KEY;
  if (fromEnv) return fromEnv;

  const devVars = await readFile(path.join(REPO_ROOT, ".dev.vars"), "utf8").catch(() => "");
  const line = devVars.split("\n").find((candidate) => candidate.startsWith("WRITE_KEY="));
  const value = line
    ?.slice("WRITE_KEY=".length)
    .trim()
    .replace(/^(["'])(.*)\1$/, "$2");
  return value || undefined;
}

/** The one-line summary the CLI prints last. */
export function formatSummary(summary: ReplaySummary, dryRun: boolean): string {
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  return [
    `files ${summary.files}`,
    `calls ${summary.calls}`,
    `identifies ${summary.identifies}`,
    `orders ${summary.orders}`,
    `cancellations ${summary.cancellations}`,
    `anonymous events ${summary.anonymousEvents}`,
    `expected order confirmations ${summary.expectedOrderConfirmations}`,
    dryRun ? `parsed in ${seconds} s (dry run, nothing posted)` : `posted in ${seconds} s`,
  ].join(" · ");
}

async function main(argv: string[]): Promise<number> {
  const dryRun = argv.includes("--dry-run");
  const paths = argv.filter((arg) => arg !== "--dry-run");
  if (paths.length === 0 || paths.some((arg) => arg.startsWith("--"))) {
    console.error("usage: npm run replay -- <folder or file>... [--dry-run]");
    return 2;
  }
  const engineUrl = process.env.PARCOURS_URL || DEFAULT_ENGINE_URL;
  const writeKey = dryRun ? undefined : await resolveWriteKey();
  if (!dryRun && !writeKey) {
    console.error("replay: set PARCOURS_WRITE_KEY or put WRITE_KEY=... in .dev.vars");
    return 1;
  }

  try {
    const summary = await replay({
      paths,
      engineUrl,
      writeKey,
      dryRun,
      showProgress: process.stderr.isTTY,
    });
    console.log(formatSummary(summary, dryRun));
    return 0;
  } catch (error) {
    console.error(`replay failed: ${error instanceof ReplayError ? error.message : error}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
