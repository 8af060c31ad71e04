/**
 * The real worker under wrangler, fed by the unmodified Segment Node client, checked through the
 * admin API the way a user would check it.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_startWorker } from "wrangler";
import { loadDemo } from "../../scripts/demo";
import { applyLocalMigrations } from "../../scripts/start";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const SHARED_DIR = path.resolve(REPO_ROOT, "../shared");
const WRITE_KEY = "e2e-write-key";
const ADMIN_KEY = "e2e-admin-key";
const POLL_INTERVAL_MS = 100;
const HEALTH_TIMEOUT_MS = 30_000;
const POLL_TIMEOUT_MS = 20_000;

interface OutboxMessage {
  id: string;
  contactId: string;
  scenarioId: string | null;
  to: string;
  subject: string | null;
  html: string | null;
  text: string | null;
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

async function contactOutbox(contactId: string): Promise<OutboxMessage[]> {
  const url = new URL("/api/outbox", engine.baseUrl);
  url.searchParams.set("contact", contactId);
  url.searchParams.set("limit", "200");
  const response = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: OutboxMessage[] }).messages;
}

/** Reads a contact's outbox every 100 ms until `done` holds; fails after 20 s with what it saw. */
async function waitForOutbox(
  contactId: string,
  done: (messages: OutboxMessage[]) => boolean,
): Promise<OutboxMessage[]> {
  const deadlineMs = Date.now() + POLL_TIMEOUT_MS;
  let messages = await contactOutbox(contactId);
  while (!done(messages)) {
    if (Date.now() > deadlineMs) {
      const seen = messages.map((message) => `${message.scenarioId}: ${message.subject}`);
      throw new Error(
        `outbox of ${contactId} after ${POLL_TIMEOUT_MS} ms: ${JSON.stringify(seen)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    messages = await contactOutbox(contactId);
  }
  return messages;
}

/** The Segment client exactly as a customer's backend would configure it. */
function segmentClient(writeKey: string): Analytics {
  return new Analytics({ writeKey, host: engine.baseUrl, path: "/v1/batch", flushAt: 20 });
}

function collectErrors(analytics: Analytics): Array<{ code: string; reason: unknown }> {
  const errors: Array<{ code: string; reason: unknown }> = [];
  analytics.on("error", (error) => errors.push({ code: error.code, reason: error.reason }));
  return errors;
}

describe("the Segment Node client against the local worker", () => {
  it("delivers the trial and order confirmations of an identified user", async () => {
    const userId = `e2e-${randomUUID()}`;
    const email = `${userId}@example.test`;
    const orderId = `E2E-${randomUUID().slice(0, 8)}`;
    const analytics = segmentClient(WRITE_KEY);
    const errors = collectErrors(analytics);

    analytics.identify({ userId, traits: { email, first_name: "Ada" } });
    analytics.track({
      userId,
      event: "Trial Booked",
      properties: { trial_date: "2026-03-02", location: "Acme Lyon" },
    });
    analytics.track({
      userId,
      event: "Order Completed",
      properties: {
        order_id: orderId,
        total: 23.4,
        currency: "GBP",
        products: [
          { sku: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", quantity: 6, price: 2.55 },
          { sku: "71053", name: "WHITE METAL LANTERN", quantity: 2, price: 4.05 },
        ],
      },
    });
    await analytics.closeAndFlush();
    expect(errors).toEqual([]);

    const messages = await waitForOutbox(userId, (seen) => seen.length >= 2);
    const trial = messages.find((message) => message.scenarioId === "trial-confirmation");
    const order = messages.find((message) => message.scenarioId === "order-confirmation");
    expect(messages).toHaveLength(2);
    expect(trial).toMatchObject({ to: email, subject: "Your free trial day is booked" });
    expect(trial?.text).toContain("Hi Ada,");
    expect(trial?.text).toContain("When: 2026-03-02");
    expect(trial?.text).toContain("Where: Acme Lyon");
    expect(order).toMatchObject({ to: email, subject: `Thank you for your order ${orderId}` });
    expect(order?.text).toContain("6 x WHITE HANGING HEART T-LIGHT HOLDER (85123A)");
    expect(order?.html).toContain("WHITE METAL LANTERN");
  });

  it("sends one message for a messageId delivered twice", async () => {
    const userId = `e2e-${randomUUID()}`;
    const messageId = randomUUID();
    const analytics = segmentClient(WRITE_KEY);
    const errors = collectErrors(analytics);
    const booking = {
      userId,
      messageId,
      event: "Trial Booked",
      properties: { trial_date: "2026-04-01" },
    };

    analytics.identify({ userId, traits: { email: `${userId}@example.test` } });
    analytics.track(booking);
    await analytics.flush();
    analytics.track(booking);
    await analytics.flush();
    // A later booking of the same contact is processed after both copies; once its message is in
    // the outbox, a message the second copy might have caused would have been queued before it.
    analytics.track({ userId, event: "Trial Booked", properties: { trial_date: "2026-04-08" } });
    await analytics.closeAndFlush();
    expect(errors).toEqual([]);

    const messages = await waitForOutbox(userId, (seen) =>
      seen.some((message) => message.text?.includes("When: 2026-04-08")),
    );
    const duplicates = messages.filter((message) => message.text?.includes("When: 2026-04-01"));
    expect(duplicates).toHaveLength(1);
    expect(messages).toHaveLength(2);
  });

  it("refuses a wrong write key with 401, which the client reports as a delivery failure", async () => {
    const analytics = segmentClient("not-the-write-key");
    const statuses: number[] = [];
    analytics.on("http_response", (response) => statuses.push(response.status));
    const errors = collectErrors(analytics);

    analytics.track({ userId: `e2e-${randomUUID()}`, event: "Trial Booked" });
    await analytics.closeAndFlush();

    expect(statuses).toEqual([401]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe("delivery_failure");
    expect(String(errors[0]?.reason)).toContain("[401]");
  });

  it("rejects a track without event with a 400 naming the event field", async () => {
    const response = await fetch(new URL("/v1/track", engine.baseUrl), {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ userId: `e2e-${randomUUID()}`, properties: { plan: "pro" } }),
    });
    const body = (await response.json()) as { issues: Array<{ path: string; message: string }> };

    expect(response.status).toBe(400);
    expect(body.issues.map((issue) => issue.path)).toEqual(["event"]);
  });
});
