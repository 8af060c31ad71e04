import { env, SELF } from "cloudflare:test";
import { queueBatches } from "../durable-objects/contact-object";
import type { Job } from "../src/queue/jobs";
import { describe, expect, it, beforeAll } from "vitest";
import {
  ADMIN_AUTH,
  admin,
  deliverPending,
  dispatchedJobs,
  demoScenarios,
  freshContactId,
  identify,
  outboxOf,
  publishDemoTemplates,
  publishScenario,
  sharedScenarios,
  track,
} from "./helpers/fixtures";

beforeAll(async () => {
  await publishDemoTemplates();
  await publishScenario(sharedScenarios["trial-confirmation"]);
  await publishScenario(sharedScenarios["password-reset"]);
  await publishScenario(demoScenarios["order-confirmation"]);
});

describe("ingest to outbox", () => {
  it("sends the trial confirmation once through the queue", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, first_name: "Ada" });
    await track({ userId, event: "Trial Booked", properties: { day: "2026-12-10" } });

    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox).toHaveLength(1);
    expect(outbox[0].to).toBe(`${userId}@example.test`);
    expect(outbox[0].scenarioId).toBe("trial-confirmation");
    expect(outbox[0].stepId).toBe("confirm");
    expect(outbox[0].channel).toBe("email");
    expect(outbox[0].html).toContain("Ada");
  });

  it("renders the order's product lines in the confirmation", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({
      userId,
      event: "Order Completed",
      properties: {
        order_id: "536365",
        total: 139.12,
        currency: "GBP",
        products: [
          { sku: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", quantity: 6, price: 2.55 },
        ],
      },
    });

    await deliverPending(userId);

    const [message] = await outboxOf(userId);
    expect(message.subject).toContain("536365");
    expect(message.html).toContain("WHITE HANGING HEART T-LIGHT HOLDER");
    expect(message.text).toContain("139.12");
  });

  it("sends a password reset every time it is asked for", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({
      userId,
      event: "Password Reset Requested",
      properties: { reset_url: "https://x.test/r/1" },
    });
    await track({
      userId,
      event: "Password Reset Requested",
      properties: { reset_url: "https://x.test/r/2" },
    });

    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox.filter((m) => m.scenarioId === "password-reset")).toHaveLength(2);
    const contact = await admin(`/contacts/${userId}`);
    expect(contact.body.messages.filter((m: any) => m.status === "sent")).toHaveLength(2);
  });

  it("exports everything held about a contact, then erases it everywhere", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, first_name: "Eve" });
    await track({ userId, event: "Trial Booked" });
    await deliverPending(userId);

    const exported = await admin(`/contacts/${userId}/export`);
    expect(exported.status).toBe(200);
    expect(exported.body.profile.traits.first_name).toBe("Eve");
    expect(exported.body.events.map((e: { name: string }) => e.name)).toEqual(["Trial Booked"]);
    expect(exported.body.outbox).toHaveLength(1);

    const erased = await admin(`/contacts/${userId}`, { method: "DELETE" });
    expect(erased.status).toBe(200);
    expect((await admin(`/contacts/${userId}`)).status).toBe(404);
    expect(await outboxOf(userId)).toEqual([]);
    const { results } = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM messages WHERE contact_id = ?1) + (SELECT count(*) FROM contacts WHERE id = ?1) AS n",
    )
      .bind(userId)
      .all<{ n: number }>();
    expect(results[0]?.n).toBe(0);
  });

  it("sends a 1 500-line order and keeps sending afterwards (queue messages stay small)", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    const products = Array.from({ length: 1_500 }, (_, i) => ({
      sku: `SKU-${i}`,
      name: `PRODUCT NUMBER ${i} WITH A LONG DESCRIPTION`,
      quantity: 1,
      price: 1.25,
    }));
    expect(JSON.stringify(products).length).toBeGreaterThan(130_000);
    await track({ userId, event: "Order Completed", properties: { order_id: "big", products } });
    await track({
      userId,
      event: "Order Completed",
      properties: { order_id: "small", products: [] },
    });

    const jobs = await dispatchedJobs(userId);
    const largestBytes = Math.max(...jobs.map((job) => JSON.stringify(job).length));
    expect(largestBytes).toBeLessThan(16_000);
    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox.map((m) => m.subject.includes("big") || m.subject.includes("small"))).toEqual([
      true,
      true,
    ]);
    expect(outbox[0].html).toContain("PRODUCT NUMBER 1499 WITH A LONG DESCRIPTION");
  });
});

describe("live statistics", () => {
  it("streams a scenario's funnel as server-sent events", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: "Trial Booked" });
    await deliverPending(userId);

    const response = await SELF.fetch(
      "http://parcours.test/api/stats/scenarios/trial-confirmation/stream",
      {
        headers: { authorization: ADMIN_AUTH },
      },
    );
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    await reader.cancel();
    const text = new TextDecoder().decode(value);
    expect(text.startsWith("event: stats\ndata: ")).toBe(true);
    const stats = JSON.parse(text.slice("event: stats\ndata: ".length).trim());
    expect(stats.scenarioId).toBe("trial-confirmation");
    expect(stats.funnel["1"].confirm.sent).toBeGreaterThan(0);
  });
});

describe("queue batches", () => {
  it("split by count and by size, and set an oversized job apart", () => {
    const job = (bytes: number): Job => ({
      kind: "metrics",
      batchId: "x".repeat(bytes),
      counts: [],
    });
    const pending = [
      ...Array.from({ length: 150 }, (_, i) => ({ key: `a${i}`, job: job(100) })),
      { key: "big1", job: job(100_000) },
      { key: "big2", job: job(100_000) },
      { key: "big3", job: job(100_000) },
      { key: "huge", job: job(130_000) },
      { key: "last", job: job(100) },
    ];
    const batches = queueBatches(pending).map((batch) => batch.map(({ key }) => key));
    expect(batches.map((batch) => batch.length)).toEqual([100, 52, 1, 1, 1]);
    expect(batches[1]?.slice(-2)).toEqual(["big1", "big2"]);
    expect(batches[2]).toEqual(["big3"]);
    expect(batches[3]).toEqual(["huge"]);
    expect(batches[4]).toEqual(["last"]);
  });
});
