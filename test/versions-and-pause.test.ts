import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { contactStub } from "../durable-objects/contact-stub";
import type { Job } from "../src/queue/jobs";
import { fireAlarm } from "./helpers/alarms";
import { restoreClock, useVirtualClock } from "./helpers/clock";
import {
  admin,
  deliver,
  deliverPending,
  dispatchedJobs,
  freshContactId,
  identify,
  publishDemoTemplates,
  publishScenario,
  track,
} from "./helpers/fixtures";

const view = (contactId: string) => contactStub(env, contactId).view();

/** Two sends a day apart; `second` picks the template of the second message. */
function drip(input: { id: string; event: string; second: string; maxLateness?: string }) {
  return {
    id: input.id,
    name: input.id,
    trigger: { type: "event", event: input.event },
    consent: "transactional",
    reentry: { policy: "once" },
    ...(input.maxLateness ? { maxLateness: input.maxLateness } : {}),
    start: "first",
    steps: {
      first: { type: "send", channel: "email", template: "trial-confirmation-email", next: "wait" },
      wait: { type: "wait", duration: "P1D", next: "second" },
      second: { type: "send", channel: "email", template: input.second, next: "done" },
      done: { type: "exit" },
    },
  };
}

/** Templates of the send jobs a contact produced, in order. */
async function sentTemplates(contactId: string, scenarioId: string): Promise<string[]> {
  return (await dispatchedJobs(contactId))
    .filter((job) => job.kind === "send" && job.scenarioId === scenarioId)
    .map((job) => (job.kind === "send" ? `${job.templateId}@v${job.scenarioVersion}` : ""));
}

/** What the queue would do with the fan-out a status change starts. */
async function runFanOut(): Promise<void> {
  const job: Job = { kind: "sync-contacts", reason: "test", afterContactId: null };
  await deliver([job]);
}

beforeAll(async () => {
  await publishDemoTemplates();
});

afterEach(() => restoreClock());

describe("publishing while contacts wait", () => {
  it("gives each waiting contact the messages of its own version, none twice, none lost", async () => {
    const clock = useVirtualClock("2026-12-01T08:00:00Z");
    const scenarioId = `drip-${crypto.randomUUID().slice(0, 6)}`;
    const v1 = await publishScenario(
      drip({ id: scenarioId, event: `Go ${scenarioId}`, second: "password-reset-email" }),
    );
    const early = [freshContactId(), freshContactId(), freshContactId()];
    for (const userId of early) {
      await identify(userId, { email: `${userId}@example.test` });
      await track({ userId, event: `Go ${scenarioId}` });
    }

    clock.set("2026-12-01T12:00:00Z");
    const v2 = await publishScenario(
      drip({ id: scenarioId, event: `Go ${scenarioId}`, second: "storage-almost-full-email" }),
    );
    const late = freshContactId();
    await identify(late, { email: `${late}@example.test` });
    await track({ userId: late, event: `Go ${scenarioId}` });
    for (const userId of early) {
      expect(await view(userId).then((v) => v.schedule.length)).toBe(1);
    }

    clock.set("2026-12-02T12:00:00Z");
    for (const userId of [...early, late]) {
      await fireAlarm(userId);
      await fireAlarm(userId);
      await deliverPending(userId);
    }

    for (const userId of early) {
      expect(await sentTemplates(userId, scenarioId)).toEqual([
        `trial-confirmation-email@v${v1}`,
        `password-reset-email@v${v1}`,
      ]);
    }
    expect(await sentTemplates(late, scenarioId)).toEqual([
      `trial-confirmation-email@v${v2}`,
      `storage-almost-full-email@v${v2}`,
    ]);
    const versions = await admin(`/scenarios/${scenarioId}`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([v1, v2]);
    const first = await admin(`/scenarios/${scenarioId}/versions/${v1}`);
    expect(first.body.document.steps.second.template).toBe("password-reset-email");
  });

  it("never re-runs a contact who finished when a new version is published", async () => {
    const clock = useVirtualClock("2026-12-01T08:00:00Z");
    const scenarioId = `drip-${crypto.randomUUID().slice(0, 6)}`;
    await publishScenario(
      drip({ id: scenarioId, event: `Go ${scenarioId}`, second: "password-reset-email" }),
    );
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: `Go ${scenarioId}` });
    await deliverPending(userId);
    clock.set("2026-12-02T09:00:00Z");
    await fireAlarm(userId);

    await publishScenario(
      drip({ id: scenarioId, event: `Go ${scenarioId}`, second: "storage-almost-full-email" }),
    );
    await runFanOut();
    await track({ userId, event: `Go ${scenarioId}` });

    expect((await view(userId)).runs.map((r) => r.status)).toEqual(["completed"]);
    expect(await sentTemplates(userId, scenarioId)).toHaveLength(2);
  });
});

describe("pause, resume and stop", () => {
  it("holds a run while paused and sends its due step on resume, in order", async () => {
    const clock = useVirtualClock("2026-12-01T08:00:00Z");
    const scenarioId = `drip-${crypto.randomUUID().slice(0, 6)}`;
    await publishScenario(
      drip({ id: scenarioId, event: `Go ${scenarioId}`, second: "password-reset-email" }),
    );
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: `Go ${scenarioId}` });
    await deliverPending(userId);

    expect((await admin(`/scenarios/${scenarioId}/pause`, { method: "POST" })).status).toBe(200);
    clock.set("2026-12-02T08:00:00Z");
    await fireAlarm(userId);
    const held = await view(userId);
    expect(held.runs[0]).toMatchObject({
      status: "active",
      heldAtMs: Date.parse("2026-12-02T08:00:00Z"),
    });
    expect(held.schedule).toEqual([]);
    expect(await sentTemplates(userId, scenarioId)).toHaveLength(1);

    clock.set("2026-12-02T14:00:00Z");
    expect((await admin(`/scenarios/${scenarioId}/resume`, { method: "POST" })).status).toBe(200);
    await runFanOut();
    expect((await view(userId)).schedule).toHaveLength(1);
    await fireAlarm(userId);

    const jobs = (await dispatchedJobs(userId)).filter(
      (job) => job.kind === "send" && job.scenarioId === scenarioId,
    );
    expect(jobs.map((job) => job.kind === "send" && job.stepId)).toEqual(["first", "second"]);
    expect(jobs[1]).toMatchObject({
      suppressedReason: null,
      createdAtMs: Date.parse("2026-12-02T14:00:00Z"),
    });
    expect((await view(userId)).runs[0]?.status).toBe("completed");
  });

  it("drops a step that became due longer ago than the scenario allows", async () => {
    const clock = useVirtualClock("2026-12-01T08:00:00Z");
    const scenarioId = `drip-${crypto.randomUUID().slice(0, 6)}`;
    await publishScenario(
      drip({
        id: scenarioId,
        event: `Go ${scenarioId}`,
        second: "password-reset-email",
        maxLateness: "PT2H",
      }),
    );
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({ userId, event: `Go ${scenarioId}` });
    await deliverPending(userId);
    await admin(`/scenarios/${scenarioId}/pause`, { method: "POST" });
    clock.set("2026-12-02T08:00:00Z");
    await fireAlarm(userId);

    clock.set("2026-12-03T08:00:00Z");
    await admin(`/scenarios/${scenarioId}/resume`, { method: "POST" });
    await runFanOut();
    await fireAlarm(userId);
    await deliverPending(userId);

    const contact = await admin(`/contacts/${userId}`);
    const second = contact.body.messages.find((m: { stepId: string }) => m.stepId === "second");
    expect(second).toMatchObject({ status: "suppressed", error: "late by 1440 min" });
  });

  it("ends every run at once on stop, with the reason recorded", async () => {
    useVirtualClock("2026-12-01T08:00:00Z");
    const scenarioId = `drip-${crypto.randomUUID().slice(0, 6)}`;
    await publishScenario(
      drip({ id: scenarioId, event: `Go ${scenarioId}`, second: "password-reset-email" }),
    );
    const users = [freshContactId(), freshContactId()];
    for (const userId of users) {
      await identify(userId, { email: `${userId}@example.test` });
      await track({ userId, event: `Go ${scenarioId}` });
      await deliverPending(userId);
    }

    expect((await admin(`/scenarios/${scenarioId}/stop`, { method: "POST" })).body.status).toBe(
      "stopped",
    );
    await runFanOut();

    for (const userId of users) {
      const state = await view(userId);
      expect(state.runs[0]).toMatchObject({ status: "exited", endReason: "scenario stopped" });
      expect(state.schedule).toEqual([]);
      expect(await fireAlarm(userId)).toBe(false);
    }
  });
});
