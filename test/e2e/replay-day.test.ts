/**
 * One real day of the UCI retail data, replayed through `scripts/replay.ts` into the worker under
 * wrangler, must come out as exactly one order confirmation per order of a contact with an email.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_startWorker } from "wrangler";
import { loadDemo } from "../../scripts/demo";
import { replay } from "../../scripts/replay";
import { applyLocalMigrations } from "../../scripts/start";
import { expectedOrderConfirmations } from "../../src/replay/retail";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const SHARED_DIR = path.resolve(REPO_ROOT, "../shared");
const DAY_FILE = path.join(SHARED_DIR, "data/uci-online-retail/by-day/2010-12-01.csv");
const WRITE_KEY = "e2e-write-key";
const ADMIN_KEY = "e2e-admin-key";
const SCENARIO_ID = "order-confirmation";
const PAGE_LIMIT = 200;
const POLL_INTERVAL_MS = 100;
const HEALTH_TIMEOUT_MS = 30_000;
const POLL_TIMEOUT_MS = 60_000;
/** Longer than the queue's 1 s batch window, so a steady count means the queue has drained. */
const STEADY_FOR_MS = 2_500;

interface OutboxMessage {
  id: string;
  contactId: string;
  scenarioId: string | null;
  to: string;
  subject: string | null;
  html: string | null;
}

interface LocalEngine {
  baseUrl: string;
  stop(): Promise<void>;
}

/**
 * Runs the worker as `wrangler dev` would, on its own port, storage and dev registry, without
 * file watching: an edit elsewhere in the repo must not reload it and drop the local queue.
 */
async function startEngine(): Promise<LocalEngine> {
  const persistDir = await mkdtemp(path.join(tmpdir(), "parcours-e2e-"));
  await applyLocalMigrations({ persistTo: persistDir });

  const worker = await unstable_startWorker({
    config: path.join(REPO_ROOT, "wrangler.toml"),
    bindings: {
      WRITE_KEY: { type: "plain_text", value: WRITE_KEY },
      ADMIN_KEY: { type: "plain_text", value: ADMIN_KEY },
      TRACKING_SECRET: { type: "plain_text", value: "e2e-tracking-secret" },
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
  const url = await worker.url;
  await waitForHealth(url.origin);
  return {
    baseUrl: url.origin,
    async stop() {
      await worker.dispose();
      await rm(persistDir, { recursive: true, force: true });
    },
  };
}

/** A build that fails leaves requests hanging; this turns that into one clear failure. */
async function waitForHealth(baseUrl: string): Promise<void> {
  const deadlineMs = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadlineMs) {
    const healthy = await fetch(new URL("/health", baseUrl), {
      signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
    }).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(
    `the worker did not answer /health within ${HEALTH_TIMEOUT_MS} ms (build error?)`,
  );
}

let engine: LocalEngine;

beforeAll(async () => {
  engine = await startEngine();
  const demo = await loadDemo({
    baseUrl: engine.baseUrl,
    adminKey: ADMIN_KEY,
    sharedDir: SHARED_DIR,
  });
  expect(demo.outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
});

afterAll(async () => {
  await engine?.stop();
});

/** Every outbox message of the scenario, following `after` from page to page. */
async function scenarioOutbox(): Promise<OutboxMessage[]> {
  const all: OutboxMessage[] = [];
  for (;;) {
    const url = new URL("/api/outbox", engine.baseUrl);
    url.searchParams.set("scenario", SCENARIO_ID);
    url.searchParams.set("limit", String(PAGE_LIMIT));
    const last = all.at(-1);
    if (last) url.searchParams.set("after", last.id);
    const response = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(response.status).toBe(200);
    const page = ((await response.json()) as { messages: OutboxMessage[] }).messages;
    all.push(...page);
    if (page.length < PAGE_LIMIT) return all;
  }
}

/** Polls until the count has held for `STEADY_FOR_MS`, or the timeout; answers the last read. */
async function settledScenarioOutbox(): Promise<OutboxMessage[]> {
  const deadlineMs = Date.now() + POLL_TIMEOUT_MS;
  let messages = await scenarioOutbox();
  let steadySinceMs = Date.now();
  while (Date.now() - steadySinceMs < STEADY_FOR_MS && Date.now() < deadlineMs) {
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    const next = await scenarioOutbox();
    if (next.length !== messages.length) steadySinceMs = Date.now();
    messages = next;
  }
  return messages;
}

describe("replaying 2010-12-01 of the UCI online retail data", () => {
  it("sends one order confirmation per order of a contact with an email", async () => {
    const csv = await readFile(DAY_FILE, "utf8");
    const expected = expectedOrderConfirmations(csv);
    expect(expected).toBe(121);

    const summary = await replay({
      paths: [DAY_FILE],
      engineUrl: engine.baseUrl,
      writeKey: WRITE_KEY,
      dryRun: false,
      showProgress: false,
    });
    expect(summary.expectedOrderConfirmations).toBe(expected);

    const messages = await settledScenarioOutbox();
    expect(messages).toHaveLength(expected);
    expect(new Set(messages.map((message) => message.id)).size).toBe(expected);

    const invoice = messages.filter(
      (message) =>
        message.to === "c17850@example.test" && message.subject?.includes("536365") === true,
    );
    expect(invoice).toHaveLength(1);
    expect(invoice[0]?.contactId).toBe("c17850");
    expect(invoice[0]?.html).toContain("WHITE HANGING HEART T-LIGHT HOLDER");
  });
});
