/**
 * One real day of the UCI retail data, replayed through `scripts/replay.ts` into the worker under
 * wrangler, must come out as exactly one order confirmation per order of a contact with an email.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replay } from "../../scripts/replay";
import { expectedOrderConfirmations } from "../../src/replay/retail";
import { pollUntilSteady, startLocalEngine, type LocalEngine } from "./local-engine";

const SHARED_DIR = path.resolve(import.meta.dirname, "../../../shared");
const DAY_FILE = path.join(SHARED_DIR, "data/uci-online-retail/by-day/2010-12-01.csv");
const SCENARIO_ID = "order-confirmation";
const PAGE_LIMIT = 200;
const POLL_INTERVAL_MS = 100;
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

let engine: LocalEngine;

beforeAll(async () => {
  engine = await startLocalEngine();
  const demo = await engine.loadDemo();
  expect(demo.outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
});

afterAll(async () => {
  await engine?.dispose();
});

/** Every outbox message of the scenario, following `after` from page to page. */
async function scenarioOutbox(): Promise<OutboxMessage[]> {
  const all: OutboxMessage[] = [];
  for (;;) {
    const query = new URLSearchParams({ scenario: SCENARIO_ID, limit: String(PAGE_LIMIT) });
    const last = all.at(-1);
    if (last) query.set("after", last.id);
    const response = await engine.admin(`/api/outbox?${query}`);
    expect(response.status).toBe(200);
    const page = ((await response.json()) as { messages: OutboxMessage[] }).messages;
    all.push(...page);
    if (page.length < PAGE_LIMIT) return all;
  }
}

/** Polls until the count has held for `STEADY_FOR_MS`, or the timeout; answers the last read. */
function settledScenarioOutbox(): Promise<OutboxMessage[]> {
  return pollUntilSteady(scenarioOutbox, {
    steadyForMs: STEADY_FOR_MS,
    timeoutMs: POLL_TIMEOUT_MS,
    intervalMs: POLL_INTERVAL_MS,
  });
}

describe("replaying 2010-12-01 of the UCI online retail data", () => {
  it("sends one order confirmation per order of a contact with an email", async () => {
    const csv = await readFile(DAY_FILE, "utf8");
    const expected = expectedOrderConfirmations(csv);
    expect(expected).toBe(121);

    const summary = await replay({
      paths: [DAY_FILE],
      engineUrl: engine.baseUrl,
      writeKey: engine.writeKey,
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
