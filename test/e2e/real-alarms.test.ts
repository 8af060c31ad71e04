/**
 * The worker under wrangler with the runtime's own alarms and queue, where the workerd suite
 * records alarms by hand on a virtual clock: a wait of two seconds must wake the contact's object
 * on the real clock, once, and send the next step once.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil, pollUntilSteady, startLocalEngine, type LocalEngine } from "./local-engine";

const POLL_INTERVAL_MS = 100;
const POLL_TIMEOUT_MS = 20_000;
const WAIT_MS = 2_000;
/** Longer than the queue's 1 s batch window, so a second copy of a send would have landed. */
const STEADY_FOR_MS = 3_000;
const SETTLE_TIMEOUT_MS = 10_000;

/** Two sends around a real wait; an engagement `wait_for` is left out, its 2 min grace is too long. */
const ALARM_CHECK = {
  id: "alarm-check",
  name: "Alarm check: two sends around a wait",
  trigger: { type: "event", event: "Alarm Check" },
  consent: "transactional",
  reentry: { policy: "always" },
  start: "first",
  steps: {
    first: { type: "send", channel: "email", template: "trial-confirmation-email", next: "pause" },
    pause: { type: "wait", duration: "PT2S", next: "second" },
    second: { type: "send", channel: "email", template: "password-reset-email", next: "done" },
    done: { type: "exit" },
  },
};

interface OutboxMessage {
  id: string;
  contactId: string;
  scenarioId: string | null;
  stepId: string | null;
  to: string;
  subject: string | null;
  /** Epoch ms at which the outbox provider stored the message. */
  createdAt: number;
}

let engine: LocalEngine;

beforeAll(async () => {
  engine = await startLocalEngine();
  const demo = await engine.loadDemo();
  expect(demo.outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);

  const saved = await engine.admin("/api/scenarios", {
    method: "POST",
    body: JSON.stringify(ALARM_CHECK),
  });
  expect(saved.ok, await saved.clone().text()).toBe(true);
  const published = await engine.admin(`/api/scenarios/${ALARM_CHECK.id}/publish`, {
    method: "POST",
  });
  expect(published.ok, await published.clone().text()).toBe(true);
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

describe("a scenario wait on the runtime's alarms", () => {
  it("sends the step after a two-second wait once, at least two seconds after the event", async () => {
    const contactId = `e2e-alarm-${randomUUID()}`;
    const email = `${contactId}@example.test`;

    const sentAtMs = Date.now();
    const ingest = await engine.batch([
      { type: "identify", userId: contactId, traits: { email } },
      { type: "track", userId: contactId, event: "Alarm Check" },
    ]);
    expect(ingest.status, await ingest.clone().text()).toBe(200);

    const both = await pollUntil(() => contactOutbox(contactId), {
      until: (messages) => messages.some((message) => message.stepId === "second"),
      timeoutMs: POLL_TIMEOUT_MS,
      intervalMs: POLL_INTERVAL_MS,
      describe: (messages) =>
        `no send after the wait within ${POLL_TIMEOUT_MS} ms; outbox steps: ` +
        JSON.stringify(messages.map((message) => message.stepId)),
    });
    const first = both.find((message) => message.stepId === "first");
    const second = both.find((message) => message.stepId === "second");
    expect(first).toMatchObject({ to: email, subject: "Your free trial day is booked" });
    expect(second).toMatchObject({ to: email, subject: "Reset your Acme password" });
    // The wait starts when the object takes the event, which is after the request was sent;
    // the first message's own delivery time varies with the queue's batching.
    expect((second?.createdAt ?? 0) - sentAtMs).toBeGreaterThanOrEqual(WAIT_MS);
    expect(second?.createdAt ?? 0).toBeGreaterThan(first?.createdAt ?? 0);

    const settled = await pollUntilSteady(() => contactOutbox(contactId), {
      steadyForMs: STEADY_FOR_MS,
      timeoutMs: SETTLE_TIMEOUT_MS,
      intervalMs: POLL_INTERVAL_MS,
    });
    expect(settled.map((message) => message.stepId).sort()).toEqual(["first", "second"]);
  });
});
