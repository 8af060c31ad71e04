/**
 * The real worker under wrangler, fed by the unmodified Segment Node client, checked through the
 * admin API the way a user would check it.
 */
import { randomUUID } from "node:crypto";
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil, startLocalEngine, type LocalEngine } from "./local-engine";

const POLL_INTERVAL_MS = 100;
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

let engine: LocalEngine;

beforeAll(async () => {
  engine = await startLocalEngine();
  const demo = await engine.loadDemo();
  expect(demo.outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
});

afterAll(async () => {
  await engine?.dispose();
});

async function contactOutbox(contactId: string): Promise<OutboxMessage[]> {
  const response = await engine.admin(
    `/api/outbox?${new URLSearchParams({ contact: contactId, limit: "200" })}`,
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: OutboxMessage[] }).messages;
}

/** Reads a contact's outbox every 100 ms until `done` holds; fails after 20 s with what it saw. */
function waitForOutbox(
  contactId: string,
  done: (messages: OutboxMessage[]) => boolean,
): Promise<OutboxMessage[]> {
  return pollUntil(() => contactOutbox(contactId), {
    until: done,
    timeoutMs: POLL_TIMEOUT_MS,
    intervalMs: POLL_INTERVAL_MS,
    describe: (messages) => {
      const seen = messages.map((message) => `${message.scenarioId}: ${message.subject}`);
      return `outbox of ${contactId} after ${POLL_TIMEOUT_MS} ms: ${JSON.stringify(seen)}`;
    },
  });
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
    const analytics = segmentClient(engine.writeKey);
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
    const analytics = segmentClient(engine.writeKey);
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
        authorization: `Basic ${Buffer.from(`${engine.writeKey}:`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ userId: `e2e-${randomUUID()}`, properties: { plan: "pro" } }),
    });
    const body = (await response.json()) as { issues: Array<{ path: string; message: string }> };

    expect(response.status).toBe(400);
    expect(body.issues.map((issue) => issue.path)).toEqual(["event"]);
  });
});
