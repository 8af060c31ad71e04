import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { contactStub } from "../durable-objects/contact-stub";
import { fireAlarm } from "./helpers/alarms";
import { restoreClock, useVirtualClock } from "./helpers/clock";
import {
  admin,
  deliverPending,
  freshContactId,
  identify,
  outboxOf,
  publishDemoTemplates,
  publishScenario,
  track,
} from "./helpers/fixtures";

const view = (contactId: string) => contactStub(env, contactId).view();

/** A one-step follow-up after a wait, for time and re-entry cases. */
function followUp(input: {
  id: string;
  event: string;
  wait: string;
  reentry: unknown;
  template?: string;
}) {
  return {
    id: input.id,
    name: input.id,
    trigger: { type: "event", event: input.event },
    consent: "transactional",
    reentry: input.reentry,
    start: "wait",
    steps: {
      wait: { type: "wait", duration: input.wait, next: "send" },
      send: {
        type: "send",
        channel: "email",
        template: input.template ?? "trial-confirmation-email",
        next: "done",
      },
      done: { type: "exit" },
    },
  };
}

beforeAll(async () => {
  await publishDemoTemplates();
  await publishScenario(
    followUp({ id: "t-day", event: "Day Test", wait: "P1D", reentry: { policy: "always" } }),
  );
  await publishScenario(
    followUp({ id: "t-24h", event: "Hours Test", wait: "PT24H", reentry: { policy: "always" } }),
  );
  await publishScenario(
    followUp({
      id: "t-after",
      event: "After Test",
      wait: "PT1H",
      reentry: { policy: "after", after: "P1D" },
    }),
  );
});

afterEach(() => restoreClock());

describe("time zones and DST", () => {
  it("keeps the local clock time for P1D across the spring change in Paris", async () => {
    useVirtualClock("2026-03-28T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    await track({ userId, event: "Day Test" });
    const run = (await view(userId)).runs[0];
    expect(run?.wait?.dueAtMs).toBe(Date.parse("2026-03-29T07:00:00Z"));
  });

  it("waits exactly 24 hours for PT24H across the same change", async () => {
    useVirtualClock("2026-03-28T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Europe/Paris" });
    await track({ userId, event: "Hours Test" });
    const run = (await view(userId)).runs[0];
    expect(run?.wait?.dueAtMs).toBe(Date.parse("2026-03-29T08:00:00Z"));
  });

  it("keeps the local clock time across the autumn change in New York", async () => {
    useVirtualClock("2026-10-31T13:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "America/New_York" });
    await track({ userId, event: "Day Test" });
    const run = (await view(userId)).runs[0];
    expect(run?.wait?.dueAtMs).toBe(Date.parse("2026-11-01T14:00:00Z"));
  });

  it("uses the event's context.timezone when the contact has no timezone trait", async () => {
    useVirtualClock("2026-03-28T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` }, "Europe/Paris");
    await track({ userId, event: "Day Test" });
    expect((await view(userId)).runs[0]?.wait?.dueAtMs).toBe(Date.parse("2026-03-29T07:00:00Z"));
  });

  it("falls back to UTC for an invalid zone instead of failing", async () => {
    useVirtualClock("2026-03-28T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, timezone: "Mars/Olympus" });
    await track({ userId, event: "Day Test" });
    expect((await view(userId)).runs[0]?.wait?.dueAtMs).toBe(Date.parse("2026-03-29T08:00:00Z"));
  });
});

describe("re-entry", () => {
  it("never runs the same scenario twice at once, even with the always policy", async () => {
    useVirtualClock("2026-12-01T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: "Day Test" });
    await track({ userId, event: "Day Test" });
    const runs = (await view(userId)).runs;
    expect(runs).toHaveLength(1);
  });

  it("lets a contact back in only after the re-entry delay", async () => {
    const clock = useVirtualClock("2026-12-01T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: "After Test" });
    clock.set("2026-12-01T09:00:00Z");
    await fireAlarm(userId);
    clock.set("2026-12-01T20:00:00Z");
    await track({ userId, event: "After Test" });
    expect((await view(userId)).runs).toHaveLength(1);

    clock.set("2026-12-02T08:00:00Z");
    await track({ userId, event: "After Test" });
    expect((await view(userId)).runs.map((r) => r.status)).toEqual(["completed", "active"]);
  });
});

describe("versions", () => {
  it("finishes a waiting run on the version it entered with", async () => {
    const clock = useVirtualClock("2026-12-01T08:00:00Z");
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    const v1 = await publishScenario(
      followUp({
        id: "t-version",
        event: "Version Test",
        wait: "P1D",
        reentry: { policy: "always" },
      }),
    );
    await track({ userId, event: "Version Test" });

    const v2 = await publishScenario(
      followUp({
        id: "t-version",
        event: "Version Test",
        wait: "P1D",
        reentry: { policy: "always" },
        template: "password-reset-email",
      }),
    );
    expect(v2).toBe(v1 + 1);
    clock.set("2026-12-02T08:00:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);

    const [message] = await outboxOf(userId);
    const contact = await admin(`/contacts/${userId}`);
    expect(contact.body.messages[0].templateId).toBe("trial-confirmation-email");
    expect(contact.body.messages[0].scenarioVersion).toBe(v1);
    expect(message.scenarioId).toBe("t-version");

    const second = freshContactId();
    await identify(second, { email: `${second}@example.test` });
    await track({ userId: second, event: "Version Test" });
    expect((await view(second)).runs[0]?.version).toBe(v2);
  });
});
