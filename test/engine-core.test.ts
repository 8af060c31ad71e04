/// <reference types="vite/client" />
import { Temporal } from "temporal-polyfill";
import { describe, expect, it } from "vitest";
import type { Condition, EngagementKind } from "../src/engine/condition";
import type { ContactEvent, ContactSnapshot } from "../src/engine/contact";
import { decideEntry, eventConverts, eventExits, eventTriggers } from "../src/engine/entry";
import { compare, evaluate, type EvaluationContext } from "../src/engine/evaluate";
import {
  advanceRun,
  contactTimeZone,
  endRun,
  newRun,
  stableFraction,
  type AdvanceResult,
  type RunInput,
} from "../src/engine/interpreter";
import { consentBlock } from "../src/engine/send-rules";
import type { Effect, RunState } from "../src/engine/run";
import { parseScenario, type Scenario } from "../src/engine/scenario";
import { formatLocal } from "../src/engine/time-zone";

const sharedFiles = import.meta.glob<unknown>("../../shared/scenarios/*.json", {
  eager: true,
  import: "default",
});

const shared = Object.fromEntries(
  Object.entries(sharedFiles).map(([path, doc]) => [
    path.split("/").pop()?.replace(".json", ""),
    doc,
  ]),
);

const segments: Record<string, Condition> = Object.fromEntries(
  (shared.segments as Array<{ id: string; condition: Condition }>).map((s) => [s.id, s.condition]),
);

const PARIS = "Europe/Paris";
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

let lastId = 0;

/** A fresh, deterministic id: every test gets its own contacts, runs and events. */
function freshId(prefix: string): string {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

function parsed(doc: unknown): Scenario {
  const result = parseScenario(doc);
  if (!result.ok) throw new Error(`invalid scenario: ${JSON.stringify(result.issues)}`);
  return result.value;
}

function scenario(name: string): Scenario {
  return parsed(shared[name]);
}

/** A shared scenario changed before validation, for cases the real ones do not cover. */
function derived(name: string, change: (doc: Scenario) => void): Scenario {
  const doc = structuredClone(scenario(name));
  change(doc);
  return parsed(doc);
}

/** The instant of a wall-clock time in Paris, e.g. `2026-05-12T10:00`. */
function paris(wallClock: string): number {
  return Temporal.PlainDateTime.from(wallClock).toZonedDateTime(PARIS).epochMilliseconds;
}

function contactWith(overrides: Partial<ContactSnapshot> = {}): ContactSnapshot {
  return {
    id: freshId("contact"),
    traits: { timezone: PARIS, email: "anna@example.com" },
    contextTimeZone: null,
    events: [],
    engagements: [],
    consent: {},
    ...overrides,
  };
}

function eventOf(
  name: string,
  atMs: number,
  properties: Record<string, unknown> = {},
): ContactEvent {
  return { id: freshId("event"), type: "track", name, properties, atMs, receivedAtMs: atMs };
}

function sentTemplates(effects: Effect[]): string[] {
  return effects.flatMap((effect) => (effect.type === "send" ? [effect.template] : []));
}

function keysOf(effects: Effect[]): string[] {
  return effects.flatMap((effect) => ("key" in effect ? [effect.key] : []));
}

/** Drives one run as the contact object does: keeps the run, history and updated traits. */
class Journey {
  readonly scenario: Scenario;
  contact: ContactSnapshot;
  run: RunState;
  effects: Effect[] = [];

  constructor(input: {
    scenario: Scenario;
    contact: ContactSnapshot;
    trigger?: ContactEvent;
    atMs: number;
  }) {
    this.scenario = input.scenario;
    this.contact = structuredClone(input.contact);
    if (input.trigger) this.contact.events.push(input.trigger);
    this.run = newRun({
      id: freshId("run"),
      scenario: input.scenario,
      version: 1,
      trigger: input.trigger ?? null,
      enteredAtMs: input.atMs,
      timeZone: contactTimeZone(input.scenario, this.contact),
    });
    this.advance({ kind: "start" }, input.atMs);
  }

  advance(input: RunInput, nowMs: number): AdvanceResult {
    const result = advanceRun({
      scenario: this.scenario,
      run: this.run,
      input,
      contact: this.contact,
      segments,
      nowMs,
    });
    this.run = result.run;
    this.contact = { ...this.contact, traits: result.traits };
    this.effects.push(...result.effects);
    return result;
  }

  /** Fires the pending timer at its due time. */
  timerAtDue(): AdvanceResult {
    if (!this.run.wait) throw new Error("the run is not waiting");
    return this.advance({ kind: "timer" }, this.run.wait.dueAtMs);
  }

  event(name: string, atMs: number, properties: Record<string, unknown> = {}): AdvanceResult {
    const event = eventOf(name, atMs, properties);
    this.contact.events.push(event);
    return this.advance({ kind: "event", event }, atMs);
  }

  engage(input: {
    step: string;
    kind: EngagementKind;
    atMs: number;
    machine?: boolean;
    reportedAtMs?: number;
  }) {
    const messageId = this.run.sent[input.step];
    if (!messageId) throw new Error(`step ${input.step} sent nothing`);
    this.contact.engagements.push({
      messageId,
      kind: input.kind,
      atMs: input.atMs,
      machine: input.machine ?? false,
    });
    return this.advance({ kind: "engagement", messageId }, input.reportedAtMs ?? input.atMs);
  }

  /** When the pending timer wakes the run, on a Paris clock. */
  dueLocal(): string | null {
    return this.run.wait ? formatLocal(this.run.wait.dueAtMs, PARIS) : null;
  }

  /** When the pending wait's window ends (a wait_for's deadline), on a Paris clock. */
  deadlineLocal(): string | null {
    const wait = this.run.wait;
    return wait ? formatLocal(wait.deadlineMs ?? wait.dueAtMs, PARIS) : null;
  }
}

function cartJourney(input: { cartId: string; atMs: number; contact?: ContactSnapshot }) {
  const trigger = eventOf("Product Added", input.atMs, { cart_id: input.cartId });
  return new Journey({
    scenario: scenario("cart-reminder"),
    contact: input.contact ?? contactWith(),
    trigger,
    atMs: input.atMs,
  });
}

describe("cart reminder: waiting for the order of this cart", () => {
  it("waits four hours for an order after the cart is filled", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });

    expect(journey.run.wait).toMatchObject({ kind: "event", stepId: "wait-order" });
    expect(journey.dueLocal()).toBe("2026-05-12T14:00:00+02:00");
    expect(sentTemplates(journey.effects)).toEqual([]);
  });

  it("ignores the order of another cart and ends on the order of this one", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });

    const other = journey.event("Order Completed", paris("2026-05-12T11:00"), {
      cart_id: "cart-2",
    });

    expect(other.effects).toEqual([]);
    expect(journey.run.wait?.stepId).toBe("wait-order");

    journey.event("Order Completed", paris("2026-05-12T12:00"), { cart_id: "cart-1" });

    expect(journey.run.status).toBe("completed");
    expect(journey.run.wait).toBeNull();
    expect(sentTemplates(journey.effects)).toEqual([]);
  });

  it("sends the reminder at the timeout when only another cart was ordered", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });
    journey.event("Order Completed", paris("2026-05-12T11:00"), { cart_id: "cart-2" });

    const timeout = journey.timerAtDue();

    expect(sentTemplates(timeout.effects)).toEqual(["cart-reminder-email"]);
    expect(timeout.effects).toContainEqual({
      type: "metric",
      stepId: "wait-order",
      metric: "timeout",
      atMs: paris("2026-05-12T14:00"),
    });
    expect(journey.run.wait).toMatchObject({ kind: "duration", stepId: "wait-day" });
    expect(journey.dueLocal()).toBe("2026-05-13T14:00:00+02:00");
  });

  it("takes the then path at the timer when the order of this cart is already in history", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });
    journey.contact.events.push(
      eventOf("Order Completed", paris("2026-05-12T13:00"), { cart_id: "cart-1" }),
    );

    const timer = journey.timerAtDue();

    expect(sentTemplates(timer.effects)).toEqual([]);
    expect(journey.run.status).toBe("completed");
  });

  it("does not count an order of this cart placed before the run started", () => {
    const contact = contactWith({
      events: [eventOf("Order Completed", paris("2026-05-12T09:00"), { cart_id: "cart-1" })],
    });

    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00"), contact });

    expect(journey.run.wait?.stepId).toBe("wait-order");
    expect(sentTemplates(journey.timerAtDue().effects)).toEqual(["cart-reminder-email"]);
  });
});

describe("wait_for entered after the awaited event", () => {
  /** under-usage with an hour's pause between the invite and the wait for an upload. */
  const pausedUnderUsage = () =>
    derived("under-usage", (doc) => {
      delete doc.exit;
      doc.steps.invite = {
        type: "send",
        channel: "email",
        template: "under-usage-email",
        next: "pause",
      };
      doc.steps.pause = { type: "wait", duration: "PT1H", next: "wait-upload" };
    });

  it("resolves at once on an event that arrived after the run started", () => {
    const journey = new Journey({
      scenario: pausedUnderUsage(),
      contact: contactWith(),
      atMs: paris("2026-05-12T10:00"),
    });
    journey.contact.events.push(eventOf("File Uploaded", paris("2026-05-12T10:30")));

    const resumed = journey.timerAtDue();

    expect(resumed.effects).toContainEqual({
      type: "metric",
      stepId: "wait-upload",
      metric: "then",
      atMs: paris("2026-05-12T11:00"),
    });
    expect(journey.run.status).toBe("completed");
    expect(sentTemplates(journey.effects)).toEqual(["under-usage-email"]);
  });

  it("keeps waiting when the only such event came before the run started", () => {
    const contact = contactWith({ events: [eventOf("File Uploaded", paris("2026-05-12T09:30"))] });
    const journey = new Journey({
      scenario: pausedUnderUsage(),
      contact,
      atMs: paris("2026-05-12T10:00"),
    });

    journey.timerAtDue();

    expect(journey.run.wait).toMatchObject({ kind: "event", stepId: "wait-upload" });
    expect(journey.dueLocal()).toBe("2026-05-19T11:00:00+02:00");
    expect(sentTemplates(journey.timerAtDue().effects)).toEqual(["under-usage-push"]);
  });
});

describe("engagement waits and branches", () => {
  const birthday = () =>
    new Journey({
      scenario: scenario("birthday-offer"),
      contact: contactWith(),
      atMs: paris("2026-06-03T09:00"),
    });

  it("ends after the offer when the contact opens it", () => {
    const journey = birthday();

    journey.engage({ step: "offer", kind: "opened", atMs: paris("2026-06-03T12:00") });

    expect(journey.run.status).toBe("completed");
    expect(sentTemplates(journey.effects)).toEqual(["birthday-offer-email"]);
  });

  it("follows timeouts to the reminder, then the SMS, when nothing is opened", () => {
    const journey = birthday();

    expect(journey.deadlineLocal()).toBe("2026-06-05T09:00:00+02:00");

    const reminder = journey.timerAtDue();

    expect(reminder.effects.find((e) => e.type === "send")).toMatchObject({
      template: "birthday-reminder-email",
      atMs: paris("2026-06-05T09:00"),
    });
    expect(journey.deadlineLocal()).toBe("2026-06-08T09:00:00+02:00");
    expect(sentTemplates(journey.timerAtDue().effects)).toEqual(["birthday-offer-sms"]);
    expect(journey.run.status).toBe("completed");
  });

  it("counts an open made before the deadline but reported just after it", () => {
    const journey = birthday();

    journey.engage({
      step: "offer",
      kind: "opened",
      atMs: paris("2026-06-05T08:59"),
      reportedAtMs: paris("2026-06-05T09:01"),
    });

    expect(journey.run.status).toBe("completed");
    expect(sentTemplates(journey.effects)).toEqual(["birthday-offer-email"]);
  });

  it("sends the reminder when the first open comes after the deadline", () => {
    const journey = birthday();

    const late = journey.engage({ step: "offer", kind: "opened", atMs: paris("2026-06-05T09:01") });

    expect(late.effects).toEqual([]);
    expect(sentTemplates(journey.timerAtDue().effects)).toEqual(["birthday-reminder-email"]);
  });

  it("never resolves an engagement wait on a machine open", () => {
    const journey = birthday();

    const machine = journey.engage({
      step: "offer",
      kind: "opened",
      atMs: paris("2026-06-03T09:01"),
      machine: true,
    });

    expect(machine.effects).toEqual([]);
    expect(sentTemplates(journey.timerAtDue().effects)).toEqual(["birthday-reminder-email"]);
  });

  it("skips the cart SMS when the reminder was clicked", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });
    journey.timerAtDue();
    journey.contact.engagements.push({
      messageId: journey.run.sent.reminder as string,
      kind: "clicked",
      atMs: paris("2026-05-12T18:00"),
      machine: false,
    });

    const check = journey.timerAtDue();

    expect(sentTemplates(check.effects)).toEqual([]);
    expect(check.trace).toContainEqual(
      expect.objectContaining({ kind: "branch", detail: "case -> done" }),
    );
    expect(journey.run.status).toBe("completed");
  });

  it.each([
    ["no click", []],
    ["only a machine click", [{ kind: "clicked", machine: true }]],
    ["only an open", [{ kind: "opened", machine: false }]],
  ] as const)("sends the cart SMS a day later after %s", (_label, engagements) => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });
    journey.timerAtDue();
    for (const engagement of engagements) {
      journey.contact.engagements.push({
        messageId: journey.run.sent.reminder as string,
        atMs: paris("2026-05-12T18:00"),
        ...engagement,
      });
    }

    const check = journey.timerAtDue();

    expect(sentTemplates(check.effects)).toEqual(["cart-reminder-sms"]);
    expect(check.effects.find((e) => e.type === "send")).toMatchObject({
      channel: "sms",
      atMs: paris("2026-05-13T14:00"),
    });
  });
});

describe("send window", () => {
  it("holds the reminder from 23:00 until 08:00 and then sends it", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T19:00") });

    const closed = journey.timerAtDue();

    expect(sentTemplates(closed.effects)).toEqual([]);
    expect(journey.run.wait).toMatchObject({ kind: "window", stepId: "reminder" });
    expect(journey.dueLocal()).toBe("2026-05-13T08:00:00+02:00");

    const early = journey.advance({ kind: "timer" }, paris("2026-05-13T07:00"));

    expect(early.effects).toEqual([]);
    expect(journey.run.wait?.kind).toBe("window");

    const opened = journey.timerAtDue();

    expect(opened.effects.find((e) => e.type === "send")).toMatchObject({
      template: "cart-reminder-email",
      atMs: paris("2026-05-13T08:00"),
    });
    expect(journey.dueLocal()).toBe("2026-05-14T08:00:00+02:00");
  });

  it("opens at 08:00 on the contact's clock, not the server's", () => {
    const contact = contactWith({ traits: { timezone: "Asia/Tokyo" } });
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00"), contact });

    journey.timerAtDue();

    expect(formatLocal(journey.run.wait?.dueAtMs ?? 0, "Asia/Tokyo")).toBe(
      "2026-05-13T08:00:00+09:00",
    );
  });

  it("uses the latest event's zone when the contact has no timezone trait", () => {
    const contact = contactWith({ traits: {}, contextTimeZone: "America/New_York" });
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00"), contact });

    const timeout = journey.timerAtDue();

    expect(sentTemplates(timeout.effects)).toEqual(["cart-reminder-email"]);
  });
});

describe("split", () => {
  const subjectTest = parsed({
    id: "welcome-subject-test",
    name: "Welcome subject test",
    trigger: { type: "event", event: "Signed Up" },
    consent: "newsletter",
    reentry: { policy: "always" },
    start: "pick",
    steps: {
      pick: {
        type: "split",
        variants: [
          { name: "short", weight: 70, next: "send-short" },
          { name: "long", weight: 30, next: "send-long" },
        ],
      },
      "send-short": { type: "send", channel: "email", template: "welcome-short", next: "done" },
      "send-long": { type: "send", channel: "email", template: "welcome-long", next: "done" },
      done: { type: "exit" },
    },
  });

  const variantOf = (contact: ContactSnapshot, atMs: number) => {
    const journey = new Journey({ scenario: subjectTest, contact, atMs });
    return { variant: journey.run.variants.pick, sent: sentTemplates(journey.effects) };
  };

  it("puts the same contact in the same variant on every run", () => {
    const contact = contactWith({ id: "contact-split-stable" });
    const first = variantOf(contact, paris("2026-05-12T10:00"));

    const later = [1, 2, 3, 4].map((day) =>
      variantOf(contact, paris("2026-05-12T10:00") + day * DAY_MS),
    );

    expect(later).toEqual([first, first, first, first]);
    expect(first.sent).toEqual([first.variant === "short" ? "welcome-short" : "welcome-long"]);
  });

  it("follows the 70/30 weights over 2 000 contacts", () => {
    const counts = { short: 0, long: 0 };
    for (let i = 0; i < 2000; i++) {
      const { variant } = variantOf(contactWith({ id: `split-${i}` }), paris("2026-05-12T10:00"));
      counts[variant as "short" | "long"] += 1;
    }

    expect(counts.short + counts.long).toBe(2000);
    expect(counts.short / 2000).toBeGreaterThan(0.66);
    expect(counts.short / 2000).toBeLessThan(0.74);
  });

  it("spreads stable fractions over [0, 1)", () => {
    const fractions = Array.from({ length: 1000 }, (_, i) => stableFraction(`contact-${i}:s:pick`));

    expect(fractions.every((f) => f >= 0 && f < 1)).toBe(true);
    expect(fractions.filter((f) => f < 0.5).length).toBeGreaterThan(450);
    expect(fractions.filter((f) => f < 0.5).length).toBeLessThan(550);
    expect(stableFraction("contact-1:s:pick")).toBe(fractions[1]);
  });
});

describe("lead nurturing: scoring and hand-over", () => {
  const signedUp = (traits: Record<string, unknown> = {}) =>
    new Journey({
      scenario: scenario("lead-nurturing"),
      contact: contactWith({ traits: { timezone: PARIS, ...traits } }),
      trigger: eventOf("Signed Up", paris("2026-05-12T10:00"), { plan: "business" }),
      atMs: paris("2026-05-12T10:00"),
    });

  it("starts on a business sign-up only", () => {
    const lead = scenario("lead-nurturing");
    const contact = contactWith();
    const triggers = (plan: string) =>
      eventTriggers({
        scenario: lead,
        event: eventOf("Signed Up", paris("2026-05-12T10:00"), { plan }),
        contact,
        segments,
        nowMs: paris("2026-05-12T10:00"),
      });

    expect(triggers("business")).toBe(true);
    expect(triggers("starter")).toBe(false);
  });

  it("alerts sales and sends the guide on entry", () => {
    const journey = signedUp();

    expect(journey.effects.filter((e) => e.type === "send")).toMatchObject([
      { channel: "internal", template: "new-business-lead", to: "sales@example.com" },
      { channel: "email", template: "nurture-guide-email", to: null },
    ]);
  });

  it("hands a lead over after both clicks raise lead_score to 60", () => {
    const journey = signedUp();

    const first = journey.engage({
      step: "guide",
      kind: "clicked",
      atMs: paris("2026-05-13T09:00"),
    });

    expect(first.effects.find((e) => e.type === "update")).toMatchObject({
      increment: { lead_score: 30 },
    });
    expect(journey.contact.traits.lead_score).toBe(30);

    journey.engage({ step: "case-study", kind: "clicked", atMs: paris("2026-05-14T09:00") });

    expect(journey.contact.traits.lead_score).toBe(60);
    expect(sentTemplates(journey.effects)).toEqual([
      "new-business-lead",
      "nurture-guide-email",
      "nurture-case-study-email",
      "hot-lead",
    ]);
    expect(journey.run.status).toBe("completed");
  });

  it("does not hand over a lead that clicks once", () => {
    const journey = signedUp();
    journey.engage({ step: "guide", kind: "clicked", atMs: paris("2026-05-13T09:00") });

    journey.timerAtDue();

    expect(journey.contact.traits.lead_score).toBe(30);
    expect(sentTemplates(journey.effects)).not.toContain("hot-lead");
    expect(journey.run.status).toBe("completed");
  });

  it("does not hand over a lead that never clicks", () => {
    const journey = signedUp();

    journey.timerAtDue();
    journey.timerAtDue();

    expect(journey.contact.traits.lead_score).toBeUndefined();
    expect(journey.effects.some((e) => e.type === "update")).toBe(false);
    expect(sentTemplates(journey.effects)).toEqual([
      "new-business-lead",
      "nurture-guide-email",
      "nurture-case-study-email",
    ]);
  });

  it("hands over a lead with 20 points after one click (50 reaches gte 50)", () => {
    const journey = signedUp({ lead_score: 20 });

    journey.timerAtDue();
    journey.engage({ step: "case-study", kind: "clicked", atMs: paris("2026-05-16T09:00") });

    expect(journey.contact.traits.lead_score).toBe(50);
    expect(sentTemplates(journey.effects)).toContain("hot-lead");
  });
});

describe("consent", () => {
  const block = (consent: ContactSnapshot["consent"], topic: string, channel = "email") =>
    consentBlock({ contact: contactWith({ consent }), topic, channel });

  it.each([
    [{ offers: "unsubscribed" }, "unsubscribed from offers"],
    [{ "channel:email": "unsubscribed" }, "unsubscribed from email"],
    [{ all: "unsubscribed" }, "unsubscribed from all marketing"],
    [{ "suppressed:email": "unsubscribed" }, "email suppressed"],
  ] as const)("blocks a marketing email for %j", (consent, reason) => {
    expect(block(consent, "offers")).toBe(reason);
  });

  it("lets a marketing email through for another topic's unsubscribe or an SMS opt-out", () => {
    expect(
      block({ newsletter: "unsubscribed", "channel:sms": "unsubscribed" }, "offers"),
    ).toBeNull();
    expect(block({ offers: "subscribed" }, "offers")).toBeNull();
  });

  it("lets a transactional email through topic, channel and all unsubscribes", () => {
    const consent = {
      offers: "unsubscribed",
      "channel:email": "unsubscribed",
      all: "unsubscribed",
    } as const;

    expect(block(consent, "transactional")).toBeNull();
  });

  it("blocks a transactional email to a suppressed address", () => {
    expect(block({ "suppressed:email": "unsubscribed" }, "transactional")).toBe("email suppressed");
    expect(block({ "suppressed:sms": "unsubscribed" }, "transactional")).toBeNull();
  });

  it("suppresses the cart reminder of an offers unsubscriber instead of sending it", () => {
    const contact = contactWith({ consent: { offers: "unsubscribed" } });
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00"), contact });

    const timeout = journey.timerAtDue();

    expect(sentTemplates(timeout.effects)).toEqual([]);
    expect(timeout.effects.find((e) => e.type === "suppress")).toMatchObject({
      template: "cart-reminder-email",
      reason: "unsubscribed from offers",
    });
    expect(journey.run.wait?.stepId).toBe("wait-day");
  });

  it("sends the password reset to a contact unsubscribed from all marketing", () => {
    const journey = new Journey({
      scenario: scenario("password-reset"),
      contact: contactWith({ consent: { all: "unsubscribed", "channel:email": "unsubscribed" } }),
      trigger: eventOf("Password Reset Requested", paris("2026-05-12T10:00")),
      atMs: paris("2026-05-12T10:00"),
    });

    expect(journey.effects.find((e) => e.type === "send")).toMatchObject({
      template: "password-reset-email",
      transactional: true,
    });
  });

  it("suppresses the password reset to a suppressed address", () => {
    const journey = new Journey({
      scenario: scenario("password-reset"),
      contact: contactWith({ consent: { "suppressed:email": "unsubscribed" } }),
      atMs: paris("2026-05-12T10:00"),
    });

    expect(sentTemplates(journey.effects)).toEqual([]);
    expect(journey.effects.find((e) => e.type === "suppress")).toMatchObject({
      reason: "email suppressed",
    });
  });
});

describe("entry rules", () => {
  const decide = (input: {
    name: string;
    contact?: ContactSnapshot;
    live?: boolean;
    lastEnteredAtMs: number | null;
    nowMs: number;
  }) =>
    decideEntry({
      scenario: scenario(input.name),
      contact: input.contact ?? contactWith(),
      history: { live: input.live ?? false, lastEnteredAtMs: input.lastEnteredAtMs },
      trigger: null,
      segments,
      nowMs: input.nowMs,
    });

  const nowMs = paris("2026-05-12T10:00");

  it("lets a contact into a once scenario the first time only", () => {
    expect(decide({ name: "lead-nurturing", lastEnteredAtMs: null, nowMs })).toEqual({
      enter: true,
    });
    expect(
      decide({ name: "lead-nurturing", lastEnteredAtMs: nowMs - 400 * DAY_MS, nowMs }),
    ).toEqual({ enter: false, reason: "reentry_once" });
  });

  it("lets a contact into an always scenario again a minute later", () => {
    expect(decide({ name: "password-reset", lastEnteredAtMs: nowMs - 60_000, nowMs })).toEqual({
      enter: true,
    });
  });

  it("refuses a second live run whatever the re-entry policy", () => {
    for (const name of ["password-reset", "cart-reminder", "lead-nurturing"]) {
      expect(decide({ name, live: true, lastEnteredAtMs: null, nowMs })).toEqual({
        enter: false,
        reason: "live_run",
      });
    }
  });

  it("lets a contact back into cart-reminder one local day later, 23 hours over the DST change", () => {
    const lastEnteredAtMs = paris("2026-03-28T09:00");

    const before = decide({
      name: "cart-reminder",
      lastEnteredAtMs,
      nowMs: paris("2026-03-29T08:59"),
    });
    const after = decide({
      name: "cart-reminder",
      lastEnteredAtMs,
      nowMs: paris("2026-03-29T09:00"),
    });

    expect(before).toEqual({ enter: false, reason: "reentry_after" });
    expect(after).toEqual({ enter: true });
    expect(paris("2026-03-29T09:00") - lastEnteredAtMs).toBe(23 * HOUR_MS);
  });

  it("refuses a contact outside the audience", () => {
    const contact = contactWith({ traits: { timezone: PARIS } });

    expect(decide({ name: "birthday-offer", contact, lastEnteredAtMs: null, nowMs })).toEqual({
      enter: false,
      reason: "audience",
    });
  });

  it("refuses a contact whose consent blocks the first send", () => {
    const contact = contactWith({ consent: { offers: "unsubscribed" } });

    expect(decide({ name: "cart-reminder", contact, lastEnteredAtMs: null, nowMs })).toEqual({
      enter: false,
      reason: "consent",
    });
  });
});

describe("exit and goal", () => {
  const started = () => cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });

  const exits = (journey: Journey, event: ContactEvent) =>
    eventExits({
      scenario: journey.scenario,
      run: journey.run,
      event,
      contact: journey.contact,
      segments,
      nowMs: event.receivedAtMs,
    });

  const converts = (journey: Journey, event: ContactEvent) =>
    eventConverts({
      scenario: journey.scenario,
      run: journey.run,
      event,
      contact: journey.contact,
      segments,
      nowMs: event.receivedAtMs,
    });

  it("ends the run on an exit event and drops its wait, so the timer does nothing", () => {
    const journey = started();
    const order = eventOf("Order Completed", paris("2026-05-12T11:00"), { cart_id: "cart-9" });

    expect(exits(journey, order)).toBe(true);

    endRun({ run: journey.run, atMs: order.receivedAtMs, status: "exited", reason: "exit event" });
    const timer = journey.advance({ kind: "timer" }, paris("2026-05-12T14:00"));

    expect(journey.run).toMatchObject({ status: "exited", wait: null, endReason: "exit event" });
    expect(timer.effects).toEqual([]);
  });

  it("does not exit on other events, earlier events or an ended run", () => {
    const journey = started();

    expect(exits(journey, eventOf("Product Added", paris("2026-05-12T11:00")))).toBe(false);
    expect(exits(journey, eventOf("Order Completed", paris("2026-05-12T09:00")))).toBe(false);

    endRun({ run: journey.run, atMs: paris("2026-05-12T11:00"), status: "exited", reason: "x" });

    expect(exits(journey, eventOf("Order Completed", paris("2026-05-12T12:00")))).toBe(false);
  });

  it("sets the goal deadline seven local days after entry", () => {
    const journey = started();

    expect(formatLocal(journey.run.goalDeadlineMs ?? 0, PARIS)).toBe("2026-05-19T10:00:00+02:00");
  });

  it("converts on an order within seven days, once", () => {
    const journey = started();
    const order = eventOf("Order Completed", paris("2026-05-18T20:00"));

    expect(converts(journey, order)).toBe(true);

    journey.run.convertedAtMs = order.receivedAtMs;

    expect(converts(journey, eventOf("Order Completed", paris("2026-05-18T21:00")))).toBe(false);
  });

  it("does not convert after the window, before entry or on another event", () => {
    const journey = started();

    expect(converts(journey, eventOf("Order Completed", paris("2026-05-19T10:01")))).toBe(false);
    expect(converts(journey, eventOf("Order Completed", paris("2026-05-12T09:59")))).toBe(false);
    expect(converts(journey, eventOf("Product Added", paris("2026-05-13T10:00")))).toBe(false);
  });
});

describe("idempotency keys", () => {
  it("gives the same effects and keys when the same run state is advanced twice", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });
    const parked = structuredClone(journey.run);
    const args = {
      scenario: journey.scenario,
      run: parked,
      input: { kind: "timer" } as const,
      contact: journey.contact,
      segments,
      nowMs: paris("2026-05-12T14:00"),
    };

    const first = advanceRun(args);
    const second = advanceRun(args);

    expect(keysOf(first.effects)).toHaveLength(1);
    expect(second.effects).toEqual(first.effects);
    expect(second.run).toEqual(first.run);
    expect(parked).toEqual(journey.run);
  });

  it("gives the same keys when a fresh run is started twice", () => {
    const lead = scenario("lead-nurturing");
    const contact = contactWith();
    const run = newRun({
      id: "run-fixed",
      scenario: lead,
      version: 1,
      trigger: null,
      enteredAtMs: paris("2026-05-12T10:00"),
      timeZone: PARIS,
    });
    const start = () =>
      advanceRun({
        scenario: lead,
        run,
        input: { kind: "start" },
        contact,
        segments,
        nowMs: paris("2026-05-12T10:00"),
      });

    const keys = keysOf(start().effects);

    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
    expect(keysOf(start().effects)).toEqual(keys);
  });

  it("gives every send of a run its own key", () => {
    const journey = cartJourney({ cartId: "cart-1", atMs: paris("2026-05-12T10:00") });
    journey.timerAtDue();
    journey.timerAtDue();

    const keys = keysOf(journey.effects);

    expect(sentTemplates(journey.effects)).toEqual(["cart-reminder-email", "cart-reminder-sms"]);
    expect(new Set(keys).size).toBe(2);
  });
});

describe("conditions", () => {
  const nowMs = paris("2026-05-12T10:00");

  const ctxFor = (contact: Partial<ContactSnapshot>): EvaluationContext => ({
    contact: contactWith(contact),
    nowMs,
    timeZone: PARIS,
    segments,
  });

  const holds = (condition: Condition, traits: Record<string, unknown>) =>
    evaluate(condition, ctxFor({ traits }));

  it("compares eq across numbers and numeric strings, but not other strings", () => {
    expect(holds({ trait: "age", op: "eq", value: 42 }, { age: 42 })).toBe(true);
    expect(holds({ trait: "age", op: "eq", value: 42 }, { age: "42" })).toBe(true);
    expect(holds({ trait: "age", op: "eq", value: "42" }, { age: 42 })).toBe(true);
    expect(holds({ trait: "age", op: "eq", value: 0 }, { age: "" })).toBe(false);
    expect(holds({ trait: "plan", op: "eq", value: "business" }, { plan: "business" })).toBe(true);
    expect(holds({ trait: "plan", op: "eq", value: "business" }, { plan: "Business" })).toBe(false);
  });

  it("treats ne as true for a missing trait", () => {
    expect(holds({ trait: "plan", op: "ne", value: "business" }, {})).toBe(true);
    expect(holds({ trait: "plan", op: "ne", value: "business" }, { plan: "business" })).toBe(false);
  });

  it("matches in and not_in against a list", () => {
    const frenchOrBelgian: Condition = { trait: "country", op: "in", value: ["FR", "BE"] };
    const outside: Condition = { trait: "country", op: "not_in", value: ["FR", "BE"] };

    expect(holds(frenchOrBelgian, { country: "BE" })).toBe(true);
    expect(holds(frenchOrBelgian, { country: "DE" })).toBe(false);
    expect(holds(frenchOrBelgian, {})).toBe(false);
    expect(holds(outside, { country: "DE" })).toBe(true);
    expect(holds(outside, { country: "FR" })).toBe(false);
    expect(holds({ trait: "tier", op: "in", value: [1, 2] }, { tier: "2" })).toBe(true);
  });

  it("matches contains on strings and lists, starts_with on strings", () => {
    expect(
      holds({ trait: "company", op: "contains", value: "Acme" }, { company: "Acme SAS" }),
    ).toBe(true);
    expect(holds({ trait: "tags", op: "contains", value: "vip" }, { tags: ["beta", "vip"] })).toBe(
      true,
    );
    expect(holds({ trait: "tags", op: "contains", value: "vi" }, { tags: ["beta", "vip"] })).toBe(
      false,
    );
    expect(holds({ trait: "email", op: "starts_with", value: "anna@" }, {})).toBe(false);
    expect(
      holds({ trait: "email", op: "starts_with", value: "anna@" }, { email: "anna@example.com" }),
    ).toBe(true);
    expect(holds({ trait: "phone", op: "starts_with", value: "33" }, { phone: 33612 })).toBe(false);
  });

  it("counts zero and false as existing, but not empty strings or null", () => {
    const exists = { trait: "x", op: "exists" } as const;
    const missing = { trait: "x", op: "not_exists" } as const;

    expect([0, false, "a"].map((x) => holds(exists, { x }))).toEqual([true, true, true]);
    expect(["", null, undefined].map((x) => holds(exists, { x }))).toEqual([false, false, false]);
    expect(["", null, undefined].map((x) => holds(missing, { x }))).toEqual([true, true, true]);
    expect(holds(missing, { x: 0 })).toBe(false);
  });

  it("is false for gt, gte, lt and lte on a missing trait", () => {
    const ops = ["gt", "gte", "lt", "lte"] as const;

    expect(ops.map((op) => holds({ trait: "lead_score", op, value: 0 }, {}))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(ops.map((op) => compare(null, op, 0))).toEqual([false, false, false, false]);
  });

  it("orders numeric strings as numbers and ISO dates as text", () => {
    expect(holds({ trait: "n", op: "gt", value: 9 }, { n: "10" })).toBe(true);
    expect(holds({ trait: "d", op: "gt", value: "2025-12-31" }, { d: "2026-01-01" })).toBe(true);
    expect(holds({ trait: "d", op: "lt", value: "2025-12-31" }, { d: "2026-01-01" })).toBe(false);
  });

  it("reads a contact ref for the compared value", () => {
    const overBudget = { trait: "spent", op: "gt", value: { ref: "contact.budget" } } as const;

    expect(holds(overBudget, { spent: 120, budget: 100 })).toBe(true);
    expect(holds(overBudget, { spent: 80, budget: 100 })).toBe(false);
    expect(holds(overBudget, { spent: 80 })).toBe(false);
  });

  it("combines with all, any and not", () => {
    const business = { trait: "plan", op: "eq", value: "business" } as const;
    const french = { trait: "country", op: "eq", value: "FR" } as const;
    const traits = { plan: "business", country: "DE" };

    expect(holds({ all: [business, french] }, traits)).toBe(false);
    expect(holds({ any: [business, french] }, traits)).toBe(true);
    expect(holds({ not: french }, traits)).toBe(true);
  });

  const orders = (...spec: Array<[daysAgo: number, total: number]>) =>
    spec.map(([daysAgo, total]) => eventOf("Order Completed", nowMs - daysAgo * DAY_MS, { total }));

  it("makes a contact with three orders in the last year vip, not one with an older third", () => {
    const vip = { segment: "vip" };

    expect(evaluate(vip, ctxFor({ events: orders([10, 20], [100, 30], [300, 40]) }))).toBe(true);
    expect(evaluate(vip, ctxFor({ events: orders([10, 20], [100, 30], [400, 40]) }))).toBe(false);
  });

  it("makes a past buyer with no order in 180 days lapsed", () => {
    const lapsed = { segment: "lapsed-customers" };
    const buyer = { timezone: PARIS, orders_count: 2 };

    expect(evaluate(lapsed, ctxFor({ traits: buyer, events: orders([200, 30]) }))).toBe(true);
    expect(evaluate(lapsed, ctxFor({ traits: buyer, events: orders([100, 30]) }))).toBe(false);
    expect(evaluate(lapsed, ctxFor({ traits: { orders_count: 0 }, events: [] }))).toBe(false);
  });

  it("counts only events that match where within the window", () => {
    const bigOrders = {
      event: "Order Completed",
      within: "P30D",
      count: { op: "gte", value: 2 },
      where: { property: "total", op: "gte", value: 50 },
    } as const;

    expect(evaluate(bigOrders, ctxFor({ events: orders([1, 80], [5, 50], [6, 10]) }))).toBe(true);
    expect(evaluate(bigOrders, ctxFor({ events: orders([1, 80], [6, 10], [40, 90]) }))).toBe(false);
  });

  it("counts an event exactly at the start of the window but not one in the future", () => {
    const once = {
      event: "Order Completed",
      within: "P1D",
      count: { op: "eq", value: 1 },
    } as const;
    const edge = eventOf("Order Completed", paris("2026-05-11T10:00"));
    const future = eventOf("Order Completed", paris("2026-05-12T10:01"));

    expect(evaluate(once, ctxFor({ events: [edge] }))).toBe(true);
    expect(evaluate(once, ctxFor({ events: [future] }))).toBe(false);
  });

  it("matches a count of zero when the contact never did the event", () => {
    const never = { event: "Demo Booked", count: { op: "eq", value: 0 } } as const;

    expect(evaluate(never, ctxFor({ events: [] }))).toBe(true);
    expect(evaluate(never, ctxFor({ events: [eventOf("Demo Booked", nowMs - DAY_MS)] }))).toBe(
      false,
    );
  });

  it("treats an unknown segment as false", () => {
    expect(evaluate({ segment: "no-such-segment" }, ctxFor({}))).toBe(false);
  });
});
