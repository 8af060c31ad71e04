import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { contactStub } from "../durable-objects/contact-stub";
import type { SendJob } from "../src/queue/jobs";
import { fireAlarm } from "./helpers/alarms";
import { restoreClock, useVirtualClock } from "./helpers/clock";
import {
  admin,
  deliverPending,
  dispatchedJobs,
  freshContactId,
  outboxOf,
  post,
  publishDemoTemplates,
  publishScenario,
  sharedScenarios,
} from "./helpers/fixtures";
import { hit, trackingUrls } from "./helpers/tracking";

/** One path through a scenario: a contact, what it does and when. */
interface PathSpec {
  name: string;
  scenario: string;
  start: string;
  horizon: string;
  traits: Record<string, unknown>;
  events?: Array<{ at: string; event: string; properties?: Record<string, unknown> }>;
  engagements?: Array<{ at: string; step: string; kind: "opened" | "clicked" }>;
  traitChanges?: Array<{ at: string; traits: Record<string, unknown> }>;
  /** The steps whose messages this path must produce, in order. */
  expectSteps: string[];
}

interface Sent {
  step: string | null;
  channel: string;
  template: string;
  at: string;
  suppressed: string | null;
}

const paths: PathSpec[] = [
  {
    name: "cart reminder without an order: email, then SMS a day later",
    scenario: "cart-reminder",
    start: "2026-12-07T09:00:00Z",
    horizon: "P5D",
    traits: { email: "a@example.test", phone: "+33611111111", timezone: "Europe/Paris" },
    events: [{ at: "2026-12-07T09:10:00Z", event: "Product Added", properties: { cart_id: "c1" } }],
    expectSteps: ["reminder", "sms"],
  },
  {
    name: "cart reminder with the cart's order within 4 hours: nothing",
    scenario: "cart-reminder",
    start: "2026-12-07T09:00:00Z",
    horizon: "P5D",
    traits: { email: "a@example.test", timezone: "Europe/Paris" },
    events: [
      { at: "2026-12-07T09:10:00Z", event: "Product Added", properties: { cart_id: "c2" } },
      { at: "2026-12-07T11:00:00Z", event: "Order Completed", properties: { cart_id: "c2" } },
    ],
    expectSteps: [],
  },
  {
    name: "lead nurturing with both emails clicked: hand-over to sales",
    scenario: "lead-nurturing",
    start: "2026-12-01T10:00:00Z",
    horizon: "P10D",
    traits: { email: "lead@example.test", company: "Globex" },
    events: [{ at: "2026-12-01T10:00:00Z", event: "Signed Up", properties: { plan: "business" } }],
    engagements: [
      { at: "2026-12-01T12:00:00Z", step: "guide", kind: "clicked" },
      { at: "2026-12-02T09:00:00Z", step: "case-study", kind: "clicked" },
    ],
    expectSteps: ["alert-sales", "guide", "case-study", "hand-over"],
  },
  {
    name: "lead nurturing with no click: the waits time out",
    scenario: "lead-nurturing",
    start: "2026-12-01T10:00:00Z",
    horizon: "P10D",
    traits: { email: "quiet@example.test" },
    events: [{ at: "2026-12-01T10:00:00Z", event: "Signed Up", properties: { plan: "business" } }],
    expectSteps: ["alert-sales", "guide", "case-study"],
  },
  {
    name: "birthday offer opened: no reminder",
    scenario: "birthday-offer",
    start: "2026-12-10T05:00:00Z",
    horizon: "P10D",
    traits: { email: "bday@example.test", birthday: "1990-12-10", timezone: "Europe/Paris" },
    engagements: [{ at: "2026-12-10T12:00:00Z", step: "offer", kind: "opened" }],
    expectSteps: ["offer"],
  },
  {
    name: "birthday offer never opened: reminder, then SMS",
    scenario: "birthday-offer",
    start: "2026-12-10T05:00:00Z",
    horizon: "P10D",
    traits: {
      email: "bday2@example.test",
      phone: "+33622222222",
      birthday: "1990-12-10",
      timezone: "Europe/Paris",
    },
    expectSteps: ["offer", "reminder", "sms"],
  },
  {
    name: "birthday reactivation opened and clicked: keep-offers email",
    scenario: "birthday-reactivation",
    start: "2026-12-10T05:00:00Z",
    horizon: "P20D",
    traits: {
      email: "lapsed@example.test",
      orders_count: 3,
      birthday: "1985-12-10",
      timezone: "Europe/London",
    },
    engagements: [
      { at: "2026-12-10T15:00:00Z", step: "campaign-email", kind: "opened" },
      { at: "2026-12-11T09:00:00Z", step: "campaign-email", kind: "clicked" },
    ],
    expectSteps: ["campaign-email", "keep-offers"],
  },
  {
    name: "birthday reactivation opened, not clicked: reminder",
    scenario: "birthday-reactivation",
    start: "2026-12-10T05:00:00Z",
    horizon: "P20D",
    traits: {
      email: "lapsed2@example.test",
      orders_count: 1,
      birthday: "1985-12-11",
      timezone: "Asia/Tokyo",
    },
    engagements: [{ at: "2026-12-11T05:00:00Z", step: "campaign-email", kind: "opened" }],
    expectSteps: ["campaign-email", "reminder"],
  },
  {
    name: "storage crossing below 10 %: one warning",
    scenario: "storage-almost-full",
    start: "2026-12-01T08:00:00Z",
    horizon: "P5D",
    traits: { email: "full@example.test", storage_free_pct: 40 },
    traitChanges: [
      { at: "2026-12-02T08:00:00Z", traits: { storage_free_pct: 8 } },
      { at: "2026-12-02T09:00:00Z", traits: { storage_free_pct: 5 } },
    ],
    expectSteps: ["warn"],
  },
  {
    name: "under-usage: invite after 21 days, push after 7 more",
    scenario: "under-usage",
    start: "2026-11-01T08:00:00Z",
    horizon: "P40D",
    traits: { email: "rare@example.test", push_token: "tok-1", timezone: "America/New_York" },
    events: [{ at: "2026-11-02T08:00:00Z", event: "File Uploaded" }],
    expectSteps: ["invite", "push"],
  },
  {
    name: "password reset: one link",
    scenario: "password-reset",
    start: "2026-12-01T08:00:00Z",
    horizon: "P1D",
    traits: { email: "pw@example.test" },
    events: [{ at: "2026-12-01T08:30:00Z", event: "Password Reset Requested" }],
    expectSteps: ["send-link"],
  },
  {
    name: "trial confirmation: one email",
    scenario: "trial-confirmation",
    start: "2026-12-01T08:00:00Z",
    horizon: "P1D",
    traits: { email: "trial@example.test" },
    events: [{ at: "2026-12-01T08:30:00Z", event: "Trial Booked" }],
    expectSteps: ["confirm"],
  },
];

beforeAll(async () => {
  await publishDemoTemplates();
  for (const segment of sharedScenarios.segments as Array<{ id: string }>) {
    await admin("/segments", { body: segment });
    await admin(`/segments/${segment.id}/publish`, { method: "POST" });
  }
  for (const id of new Set(paths.map((path) => path.scenario))) {
    await publishScenario(sharedScenarios[id]);
  }
});

afterEach(() => restoreClock());

type Input =
  | { at: number; kind: "event"; event: string; properties: Record<string, unknown> }
  | { at: number; kind: "engagement"; step: string; engagement: "opened" | "clicked" }
  | { at: number; kind: "traits"; traits: Record<string, unknown> };

/** Runs the path through the live contact object, firing its alarms directly. */
async function live(spec: PathSpec): Promise<Sent[]> {
  const clock = useVirtualClock(spec.start);
  const userId = freshContactId();
  const endMs = Date.parse(spec.start) + horizonMs(spec.horizon);
  const send = async (type: string, body: Record<string, unknown>) => {
    const response = await post(type, { userId, messageId: crypto.randomUUID(), ...body });
    expect(response.status).toBe(200);
  };
  await send("identify", { traits: spec.traits });
  const inputs: Input[] = [
    ...(spec.events ?? []).map((e) => ({
      at: Date.parse(e.at),
      kind: "event" as const,
      event: e.event,
      properties: e.properties ?? {},
    })),
    ...(spec.engagements ?? []).map((e) => ({
      at: Date.parse(e.at),
      kind: "engagement" as const,
      step: e.step,
      engagement: e.kind,
    })),
    ...(spec.traitChanges ?? []).map((t) => ({
      at: Date.parse(t.at),
      kind: "traits" as const,
      traits: t.traits,
    })),
  ].sort((a, b) => a.at - b.at);

  for (let guard = 0; guard < 200; guard++) {
    const alarmAtMs = (await contactStub(env, userId).view()).alarmAtMs;
    const next = inputs[0];
    const timerFirst = alarmAtMs !== null && (next === undefined || alarmAtMs <= next.at);
    const atMs = timerFirst ? alarmAtMs : next?.at;
    if (atMs === undefined || atMs === null || atMs > endMs) break;
    clock.set(new Date(atMs).toISOString());
    if (timerFirst) {
      await fireAlarm(userId);
    } else {
      const input = inputs.shift() as Input;
      if (input.kind === "event")
        await send("track", { event: input.event, properties: input.properties });
      if (input.kind === "traits") await send("identify", { traits: input.traits });
      if (input.kind === "engagement") {
        const message = (await outboxOf(userId)).filter((m) => m.stepId === input.step).at(-1);
        if (message) {
          const urls = trackingUrls(message.html);
          await hit((input.engagement === "opened" ? urls.opens : urls.clicks)[0] as string);
        }
      }
    }
    await deliverPending(userId);
  }

  return (await dispatchedJobs(userId))
    .filter((job): job is SendJob => job.kind === "send" && job.scenarioId === spec.scenario)
    .map((job) => ({
      step: job.stepId,
      channel: job.channel,
      template: job.templateId,
      at: new Date(job.createdAtMs).toISOString(),
      suppressed: job.suppressedReason,
    }));
}

/** Runs the same path through `POST /api/scenarios/:id/simulate`. */
async function simulated(spec: PathSpec): Promise<Sent[]> {
  const response = await admin(`/scenarios/${spec.scenario}/simulate`, {
    body: {
      contact: { traits: spec.traits },
      start: spec.start,
      horizon: spec.horizon,
      events: (spec.events ?? []).map((e) => ({ ...e, properties: e.properties ?? {} })),
      engagements: spec.engagements ?? [],
      traits: spec.traitChanges ?? [],
    },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return (response.body.timeline as any[])
    .filter((line) => line.message)
    .map((line) => ({
      step: line.step,
      channel: line.message.channel,
      template: line.message.template,
      at: line.message.queuedAt,
      suppressed: line.message.suppressed,
    }));
}

function horizonMs(iso: string): number {
  return Number(/^P(\d+)D$/.exec(iso)?.[1] ?? 0) * 86_400_000;
}

describe("the simulator against the live contact objects", () => {
  for (const spec of paths) {
    it(`gives the same messages at the same times: ${spec.name}`, async () => {
      const fromSimulator = await simulated(spec);
      const fromLive = await live(spec);

      expect(fromSimulator.map((m) => m.step)).toEqual(spec.expectSteps);
      expect(fromLive).toEqual(fromSimulator);
    });
  }
});

describe("the simulation API", () => {
  it("returns a timeline with UTC and local times, subjects and why waits ended", async () => {
    const response = await admin("/scenarios/birthday-offer/simulate", {
      body: {
        contact: {
          traits: { email: "x@example.test", first_name: "Léa", birthday: "1992-03-29" },
          timezone: "Europe/Paris",
        },
        start: "2026-03-28T00:00:00Z",
        horizon: "P10D",
      },
    });
    expect(response.status).toBe(200);
    const timeline = response.body.timeline as any[];
    const offer = timeline.find((line) => line.step === "offer" && line.message);
    expect(offer.at).toBe("2026-03-29T07:00:00.000Z");
    expect(offer.local).toBe("2026-03-29T09:00:00+02:00");
    expect(offer.message.subject).toContain("Léa");
    expect(timeline.some((line) => line.kind === "resume" && line.detail === "timeout")).toBe(true);
    expect(timeline.at(-1)).toMatchObject({ kind: "exit", detail: "completed" });
  });

  it("simulates a draft document and names the field of a broken one", async () => {
    const draft = structuredClone(sharedScenarios["password-reset"]) as any;
    const ok = await admin("/scenarios/simulate", {
      body: {
        scenario: draft,
        events: [{ at: "2026-12-01T08:00:00Z", event: "Password Reset Requested" }],
        start: "2026-12-01T07:00:00Z",
        contact: { traits: { email: "d@example.test" } },
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.summary.messages).toBe(1);
    draft.steps["send-link"].next = "nowhere";
    const broken = await admin("/scenarios/simulate", { body: { scenario: draft } });
    expect(broken.status).toBe(400);
    expect(broken.body.issues[0].path).toBe("scenario.steps.send-link.next");
  });
});
