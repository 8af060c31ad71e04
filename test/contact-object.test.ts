import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ContactObject } from "../durable-objects/contact-object";
import { contactStub } from "../durable-objects/contact-stub";
import { fireAlarm } from "./helpers/alarms";
import { restoreClock, useVirtualClock } from "./helpers/clock";
import {
  admin,
  deliver,
  deliverPending,
  dispatchedJobs,
  freshContactId,
  identify,
  outboxOf,
  post,
  publishDemoTemplates,
  publishScenario,
  sharedScenarios,
  track,
} from "./helpers/fixtures";

const stubOf = (contactId: string) => env.CONTACTS.get(env.CONTACTS.idFromName(contactId));
const view = (contactId: string) => contactStub(env, contactId).view();

beforeAll(async () => {
  await publishDemoTemplates();
  await publishScenario(sharedScenarios["cart-reminder"]);
  await publishScenario(sharedScenarios["lead-nurturing"]);
});

afterEach(() => restoreClock());

describe("cart reminder", () => {
  it("reminds by email after 4 hours, then by SMS a day later", async () => {
    const clock = useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, {
      email: `${userId}@example.test`,
      phone: "+33612345678",
      timezone: "Europe/Paris",
    });
    await track({
      userId,
      event: "Product Added",
      properties: { cart_id: "cart-1", product_name: "Lamp" },
    });

    const waiting = await view(userId);
    const run = waiting.runs.find((r) => r.scenarioId === "cart-reminder");
    expect(run?.wait?.stepId).toBe("wait-order");
    expect(run?.wait?.dueAtMs).toBe(Date.parse("2026-12-07T13:00:00Z"));
    expect(waiting.alarmAtMs).toBe(Date.parse("2026-12-07T13:00:00Z"));

    clock.set("2026-12-07T13:00:00Z");
    expect(await fireAlarm(userId)).toBe(true);
    await deliverPending(userId);
    let outbox = await outboxOf(userId);
    expect(outbox.map((m) => m.stepId)).toEqual(["reminder"]);
    expect(outbox[0].html).toContain("Lamp");

    clock.set("2026-12-08T13:00:00Z");
    expect(await fireAlarm(userId)).toBe(true);
    await deliverPending(userId);
    outbox = await outboxOf(userId);
    expect(outbox.map((m) => `${m.stepId}:${m.channel}:${m.to}`)).toEqual([
      `reminder:email:${userId}@example.test`,
      "sms:sms:+33612345678",
    ]);
    const done = await view(userId);
    expect(done.runs.find((r) => r.scenarioId === "cart-reminder")?.status).toBe("completed");
    expect(done.alarmAtMs).toBeNull();
  });

  it("sends nothing when the cart's order arrives within 4 hours", async () => {
    const clock = useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    await track({ userId, event: "Product Added", properties: { cart_id: "cart-7" } });
    clock.set("2026-12-07T10:30:00Z");
    await track({ userId, event: "Order Completed", properties: { cart_id: "cart-7" } });

    const after = await view(userId);
    expect(after.runs[0]?.status).not.toBe("active");
    expect(after.schedule).toEqual([]);
    clock.set("2026-12-08T13:00:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);
    expect((await outboxOf(userId)).filter((m) => m.scenarioId === "cart-reminder")).toEqual([]);
  });

  it("holds the reminder until the send window opens in the contact's zone", async () => {
    const clock = useVirtualClock("2026-12-07T18:30:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    await track({ userId, event: "Product Added", properties: { cart_id: "cart-2" } });

    clock.set("2026-12-07T22:30:00Z");
    await fireAlarm(userId);
    const held = await view(userId);
    expect(held.runs[0]?.wait).toMatchObject({ kind: "window", stepId: "reminder" });
    expect(held.alarmAtMs).toBe(Date.parse("2026-12-08T07:00:00Z"));
    expect(await dispatchedJobs(userId)).not.toContainEqual(
      expect.objectContaining({ kind: "send" }),
    );

    clock.set("2026-12-08T07:00:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);
    const outbox = await outboxOf(userId);
    expect(outbox.map((m) => m.stepId)).toEqual(["reminder"]);
    expect(outbox[0].createdAt).toBe(Date.parse("2026-12-08T07:00:00Z"));
  });

  it("ends the run at once on an order and cancels its pending SMS", async () => {
    const clock = useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, {
      email: `${userId}@example.test`,
      phone: "+33600000000",
      timezone: "Europe/Paris",
    });
    await track({ userId, event: "Product Added", properties: { cart_id: "cart-3" } });
    clock.set("2026-12-07T13:00:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);

    clock.set("2026-12-07T20:00:00Z");
    await track({ userId, event: "Order Completed", properties: { cart_id: "other-cart" } });
    const after = await view(userId);
    expect(after.runs[0]).toMatchObject({
      status: "exited",
      endReason: "exit event Order Completed",
    });
    expect(after.schedule).toEqual([]);
    expect(after.alarmAtMs).toBeNull();

    clock.set("2026-12-08T13:00:00Z");
    expect(await fireAlarm(userId)).toBe(false);
    await deliverPending(userId);
    expect((await outboxOf(userId)).map((m) => m.channel)).toEqual(["email"]);
  });

  it("suppresses a reminder still in the queue when the run exits", async () => {
    const clock = useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    await track({ userId, event: "Product Added", properties: { cart_id: "cart-4" } });
    clock.set("2026-12-07T13:00:00Z");
    await fireAlarm(userId);
    clock.set("2026-12-07T13:00:01Z");
    await track({ userId, event: "Order Completed", properties: { cart_id: "cart-4" } });

    await deliverPending(userId);

    expect(await outboxOf(userId)).toEqual([]);
    const contact = await admin(`/contacts/${userId}`);
    expect(contact.body.messages).toMatchObject([
      { stepId: "reminder", status: "suppressed", error: "run exited: exit event Order Completed" },
    ]);
  });
});

describe("lead nurturing", () => {
  it("alerts sales, nurtures, and lets the engagement waits run to their timeout", async () => {
    const clock = useVirtualClock("2026-12-01T10:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, company: "Globex" });
    await track({ userId, event: "Signed Up", properties: { plan: "business" } });
    await deliverPending(userId);
    expect((await outboxOf(userId)).map((m) => `${m.stepId}:${m.to}`)).toEqual([
      "alert-sales:sales@example.com",
      `guide:${userId}@example.test`,
    ]);

    clock.set("2026-12-04T10:05:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);
    clock.set("2026-12-07T10:10:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox.map((m) => m.stepId)).toEqual(["alert-sales", "guide", "case-study"]);
    expect(outbox[0].subject).toContain("Globex");
    const done = await view(userId);
    expect(done.runs[0]).toMatchObject({ status: "completed" });
    expect(done.profile?.traits.lead_score).toBeUndefined();
  });

  it("does not enter a sign-up on another plan", async () => {
    useVirtualClock("2026-12-01T10:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: "Signed Up", properties: { plan: "free" } });
    expect((await view(userId)).runs).toEqual([]);
  });

  it("never re-enters a contact with the once policy", async () => {
    useVirtualClock("2026-12-01T10:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: "Signed Up", properties: { plan: "business" } });
    await track({ userId, event: "Demo Booked" });
    await track({ userId, event: "Signed Up", properties: { plan: "business" } });
    const runs = (await view(userId)).runs;
    expect(runs.map((r) => r.status)).toEqual(["exited"]);
    expect(runs[0]?.convertedAtMs).not.toBeNull();
  });
});

describe("at-least-once delivery", () => {
  it("ignores a repeated messageId", async () => {
    useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    const messageId = crypto.randomUUID();
    await track({ userId, event: "Product Added", properties: { cart_id: "a" }, messageId });
    await track({ userId, event: "Product Added", properties: { cart_id: "a" }, messageId });
    const state = await view(userId);
    expect(state.events.filter((e) => e.name === "Product Added")).toHaveLength(1);
    expect(state.runs).toHaveLength(1);
  });

  it("sends once when the same alarm is delivered twice", async () => {
    const clock = useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    await track({ userId, event: "Product Added", properties: { cart_id: "d" } });
    clock.set("2026-12-07T13:00:00Z");

    await runInDurableObject(stubOf(userId), async (instance: ContactObject) => {
      await instance.alarm();
      await instance.alarm();
    });
    await deliverPending(userId);

    const sends = (await dispatchedJobs(userId)).filter((job) => job.kind === "send");
    expect(sends).toHaveLength(1);
    expect(await outboxOf(userId)).toHaveLength(1);
  });

  it("sends once when the queue delivers a message twice, even at the same time", async () => {
    useVirtualClock("2026-12-07T09:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: "Signed Up", properties: { plan: "business" } });
    const sends = (await dispatchedJobs(userId)).filter((job) => job.kind === "send");
    expect(sends).toHaveLength(2);

    await Promise.all([deliver(sends), deliver(sends)]);
    await deliver(sends, 2);

    expect(await outboxOf(userId)).toHaveLength(2);
    const contact = await admin(`/contacts/${userId}`);
    expect(contact.body.messages.map((m: { status: string }) => m.status)).toEqual([
      "sent",
      "sent",
    ]);
  });
});

describe("event history", () => {
  it("keeps the latest 1 000 events, trimming once it passes 1 100", async () => {
    const userId = freshContactId();
    const batch = Array.from({ length: 1_150 }, (_, i) => ({
      type: "track",
      userId,
      event: "Page Touch",
      properties: { n: i },
      messageId: `touch-${i}`,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    }));
    expect((await post("batch", { batch })).status).toBe(200);
    let events = (await view(userId)).events;
    expect(events).toHaveLength(1_000);
    expect(events[0]?.properties.n).toBe(150);

    await track({ userId, event: "Page Touch", properties: { n: 1_150 }, messageId: "touch-last" });
    events = (await view(userId)).events;
    expect(events).toHaveLength(1_001);
    expect(events.at(-1)?.properties.n).toBe(1_150);
    await track({ userId, event: "Page Touch", messageId: "touch-0" });
    expect((await view(userId)).events).toHaveLength(1_001);
  });
});

describe("ingestion errors", () => {
  it("answers 401 to a wrong write key and stores nothing", async () => {
    const userId = freshContactId();
    const response = await post(
      "track",
      { userId, event: "Trial Booked" },
      `Basic ${btoa("nope:")}`,
    );
    expect(response.status).toBe(401);
    expect((await view(userId)).profile).toBeNull();
  });

  it("answers 400 naming the field of a malformed call", async () => {
    const response = await post("batch", {
      batch: [
        { type: "track", userId: "u1", event: "Ok" },
        { type: "track", userId: "u1" },
        { type: "track", event: "No one" },
        { type: "track", userId: "u1", event: "x", timestamp: "yesterday" },
      ],
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((issue) => issue.path)).toEqual([
      "batch.1.event",
      "batch.2.userId",
      "batch.3.timestamp",
    ]);
    expect((await view("u1")).profile).toBeNull();
  });
});
