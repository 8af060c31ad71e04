import { Temporal } from "temporal-polyfill";
import { describe, expect, it } from "vitest";
import type { IngestCall } from "../src/engine/contact-engine";
import type { FrequencyCaps } from "../src/engine/send-rules";
import { parseScenario, type Scenario } from "../src/engine/scenario";
import { nextAnniversary } from "../src/engine/triggers";
import { MemoryContactState } from "../src/simulator/memory-state";
import { isSend, runOnVirtualClock, type TimedInput } from "../src/simulator/virtual-clock";

const NEW_YORK = "America/New_York";
const PARIS = "Europe/Paris";
const AUCKLAND = "Pacific/Auckland";
const TOKYO = "Asia/Tokyo";

/** The instant of a local wall-clock time such as `2026-03-28T09:00` in a zone. */
function local(wallClock: string, timeZone: string): number {
  return Temporal.PlainDateTime.from(wallClock).toZonedDateTime(timeZone).epochMilliseconds;
}

const iso = (ms: number) => new Date(ms).toISOString();

function parsed(doc: Record<string, unknown>): Scenario {
  const result = parseScenario({ name: doc.id, consent: "offers", start: "send", ...doc });
  if (!result.ok) throw new Error(`invalid scenario: ${JSON.stringify(result.issues)}`);
  return result.value;
}

/** A scenario that sends one email when triggered, then ends; `steps` may put a wait first. */
function oneEmail(doc: Record<string, unknown>): Scenario {
  return parsed({
    reentry: { policy: "always" },
    ...doc,
    steps: {
      ...(doc.steps as object | undefined),
      send: { type: "send", channel: "email", template: `${doc.id}-email`, next: "done" },
      done: { type: "exit" },
    },
  });
}

const birthdayAtNine = oneEmail({
  id: "birthday-at-nine",
  trigger: { type: "date", trait: "birthday", at: "09:00" },
});

interface Sent {
  at: string;
  scenario: string | null;
  suppressed: string | null;
}

/**
 * Runs one contact through the engine on a virtual clock: an identify with its traits at
 * `start`, then its events, then every timer until `end`. Returns its messages in order.
 */
function simulate(input: {
  scenarios: Scenario[];
  traits: Record<string, unknown>;
  /** The whole of 2026 unless given. */
  start?: string;
  end?: string;
  events?: Array<{ at: string; event: string; timeZone?: string }>;
  caps?: FrequencyCaps;
}): Sent[] {
  const startMs = Date.parse(input.start ?? "2026-01-01T00:00:00Z");
  const call = (atMs: number, fields: Partial<IngestCall>): TimedInput => ({
    atMs,
    kind: "call",
    call: {
      type: "track",
      messageId: `${fields.name}-${atMs}`,
      name: "",
      traits: null,
      properties: {},
      timestampMs: atMs,
      timeZone: null,
      ...fields,
    },
  });
  const inputs = [
    call(startMs, {
      type: "identify",
      name: "identify",
      traits: { email: "kim@example.test", ...input.traits },
    }),
    ...(input.events ?? []).map((e) =>
      call(Date.parse(e.at), { name: e.event, timeZone: e.timeZone ?? null }),
    ),
  ];
  const steps = runOnVirtualClock({
    state: new MemoryContactState(),
    contactId: "kim",
    catalog: {
      scenarios: input.scenarios.map((scenario) => ({ scenario, version: 1 })),
      segments: {},
    },
    caps: input.caps,
    inputs,
    endMs: Date.parse(input.end ?? "2026-12-31T00:00:00Z"),
  });
  return steps.flatMap((step) =>
    step.output.jobs
      .map(({ job }) => job)
      .filter(isSend)
      .map((job) => ({
        at: iso(job.createdAtMs),
        scenario: job.scenarioId,
        suppressed: job.suppressedReason,
      })),
  );
}

const sentAt = (sent: Sent[]) => sent.filter((m) => !m.suppressed).map((m) => m.at);

describe("nextAnniversary", () => {
  it("puts a 29 February birthday on 28 February 2027 and on 29 February 2028", () => {
    const birthday = { value: "1992-02-29", at: "09:00", timeZone: PARIS };

    const in2027 = nextAnniversary({ ...birthday, afterMs: Date.parse("2027-01-01T00:00:00Z") });
    const in2028 = nextAnniversary({ ...birthday, afterMs: in2027?.dueAtMs ?? 0 });

    expect(in2027).toEqual({ dueAtMs: Date.parse("2027-02-28T08:00:00Z"), key: "2027" });
    expect(in2028).toEqual({ dueAtMs: Date.parse("2028-02-29T08:00:00Z"), key: "2028" });
  });

  it("fires a 1 January 00:30 birthday in Auckland at 11:30Z on 31 December", () => {
    const next = nextAnniversary({
      value: "1990-01-01T00:30:00",
      at: "00:30",
      timeZone: AUCKLAND,
      afterMs: Date.parse("2026-12-30T00:00:00Z"),
    });

    expect(next).toEqual({ dueAtMs: Date.parse("2026-12-31T11:30:00Z"), key: "2027" });
  });

  it("moves a -P7D offset back seven local days, keeping 09:00 across the Paris change", () => {
    const next = nextAnniversary({
      value: "1988-04-02",
      offset: "-P7D",
      at: "09:00",
      timeZone: PARIS,
      afterMs: Date.parse("2026-03-01T00:00:00Z"),
    });

    expect(next).toEqual({ dueAtMs: local("2026-03-26T09:00", PARIS), key: "2026" });
    expect(iso(next?.dueAtMs ?? 0)).toBe("2026-03-26T08:00:00.000Z");
  });

  it("goes to next year once the offset date has passed, even before the birthday", () => {
    const next = nextAnniversary({
      value: "1988-04-02",
      offset: "-P7D",
      at: "09:00",
      timeZone: PARIS,
      afterMs: Date.parse("2026-03-30T00:00:00Z"),
    });

    expect(next).toEqual({ dueAtMs: Date.parse("2027-03-26T08:00:00Z"), key: "2027" });
  });

  it("goes to next year when today's local time has passed, and at the instant itself", () => {
    const birthday = { value: "1985-06-10", at: "09:00", timeZone: TOKYO };

    const afterTen = nextAnniversary({ ...birthday, afterMs: Date.parse("2026-06-10T01:00:00Z") });
    const atNine = nextAnniversary({ ...birthday, afterMs: Date.parse("2026-06-10T00:00:00Z") });
    const beforeNine = nextAnniversary({
      ...birthday,
      afterMs: Date.parse("2026-06-09T23:59:00Z"),
    });

    expect(afterTen?.dueAtMs).toBe(Date.parse("2027-06-10T00:00:00Z"));
    expect(atNine?.dueAtMs).toBe(Date.parse("2027-06-10T00:00:00Z"));
    expect(beforeNine?.dueAtMs).toBe(Date.parse("2026-06-10T00:00:00Z"));
  });

  it("returns null for a trait that is not a date", () => {
    for (const value of [undefined, "", "tomorrow", "1990-13-01", 19900101]) {
      expect(nextAnniversary({ value, timeZone: PARIS, afterMs: 0 })).toBeNull();
    }
  });
});

describe("date triggers at 09:00 on the contact's clock", () => {
  it.each([
    [NEW_YORK, "1990-03-07", "2026-03-07T14:00:00.000Z"],
    [NEW_YORK, "1990-03-08", "2026-03-08T13:00:00.000Z"],
    [NEW_YORK, "1990-10-31", "2026-10-31T13:00:00.000Z"],
    [NEW_YORK, "1990-11-01", "2026-11-01T14:00:00.000Z"],
    [PARIS, "1990-03-28", "2026-03-28T08:00:00.000Z"],
    [PARIS, "1990-03-29", "2026-03-29T07:00:00.000Z"],
    [PARIS, "1990-10-24", "2026-10-24T07:00:00.000Z"],
    [PARIS, "1990-10-25", "2026-10-25T08:00:00.000Z"],
    [AUCKLAND, "1990-04-04", "2026-04-03T20:00:00.000Z"],
    [AUCKLAND, "1990-04-05", "2026-04-04T21:00:00.000Z"],
    [AUCKLAND, "1990-09-26", "2026-09-25T21:00:00.000Z"],
    [AUCKLAND, "1990-09-27", "2026-09-26T20:00:00.000Z"],
    [TOKYO, "1990-03-29", "2026-03-29T00:00:00.000Z"],
    [TOKYO, "1990-10-25", "2026-10-25T00:00:00.000Z"],
  ])("fires in %s for a birthday on %s at %s", (timezone, birthday, expected) => {
    const sent = simulate({
      scenarios: [birthdayAtNine],
      traits: { birthday, timezone },
    });

    expect(sentAt(sent)).toEqual([expected]);
  });

  it.each([
    [NEW_YORK, "2027-02-28T14:00:00.000Z", "2028-02-29T14:00:00.000Z"],
    [PARIS, "2027-02-28T08:00:00.000Z", "2028-02-29T08:00:00.000Z"],
    [AUCKLAND, "2027-02-27T20:00:00.000Z", "2028-02-28T20:00:00.000Z"],
    [TOKYO, "2027-02-28T00:00:00.000Z", "2028-02-29T00:00:00.000Z"],
  ])("fires a 29 February birthday in %s on 28 Feb 2027 and 29 Feb 2028", (timezone, y27, y28) => {
    const sent = simulate({
      scenarios: [birthdayAtNine],
      traits: { birthday: "1992-02-29", timezone },
      start: "2027-01-01T00:00:00Z",
      end: "2028-12-31T00:00:00Z",
    });

    expect(sentAt(sent)).toEqual([y27, y28]);
  });

  it("keeps 1 March birthdays on 1 March in the leap year", () => {
    const sent = simulate({
      scenarios: [birthdayAtNine],
      traits: { birthday: "1992-03-01", timezone: TOKYO },
      start: "2028-02-01T00:00:00Z",
      end: "2028-03-31T00:00:00Z",
    });

    expect(sentAt(sent)).toEqual(["2028-03-01T00:00:00.000Z"]);
  });

  it("counts a New Year birthday in Auckland on its own date, a UTC day early", () => {
    const newYear = oneEmail({
      id: "new-year",
      trigger: { type: "date", trait: "birthday", at: "00:30" },
    });

    const sent = simulate({
      scenarios: [newYear],
      traits: { birthday: "1990-01-01", timezone: AUCKLAND },
      start: "2026-12-01T00:00:00Z",
      end: "2027-01-31T00:00:00Z",
    });

    expect(sentAt(sent)).toEqual(["2026-12-31T11:30:00.000Z"]);
  });
});

describe("local times the clocks skip or repeat", () => {
  const at = (time: string) =>
    oneEmail({
      id: `at-${time.replace(":", "")}`,
      trigger: { type: "date", trait: "day", at: time },
    });

  // Spring: the missing half hour moves forward one hour. Autumn: the first (summer) 02:30.
  it.each([
    [PARIS, "1990-03-29", "02:30", "2026-03-29T01:30:00.000Z"],
    [PARIS, "1990-10-25", "02:30", "2026-10-25T00:30:00.000Z"],
    [NEW_YORK, "1990-03-08", "02:30", "2026-03-08T07:30:00.000Z"],
    [NEW_YORK, "1990-11-01", "01:30", "2026-11-01T05:30:00.000Z"],
    [AUCKLAND, "1990-09-27", "02:30", "2026-09-26T14:30:00.000Z"],
    [AUCKLAND, "1990-04-05", "02:30", "2026-04-04T13:30:00.000Z"],
  ])("resolves %s on %s at %s to %s", (timezone, day, time, expected) => {
    const sent = simulate({
      scenarios: [at(time)],
      traits: { day, timezone },
    });

    expect(sentAt(sent)).toEqual([expected]);
  });

  it("fires once, not twice, when the repeated hour passes", () => {
    const sent = simulate({
      scenarios: [at("01:30")],
      traits: { day: "1990-11-01", timezone: NEW_YORK },
    });

    expect(sent).toHaveLength(1);
  });
});

describe("wait.until and the send window hold messages on the contact's clock", () => {
  const signUp = (doc: Record<string, unknown>) =>
    oneEmail({ trigger: { type: "event", event: "Signed Up" }, ...doc });

  // Sat 23:00 EST → Sun 10:00 EDT; Sat → Mon over the Paris and Auckland autumn changes.
  it.each([
    [NEW_YORK, { at: "10:00" }, "2026-03-08T04:00:00Z", "2026-03-08T14:00:00.000Z"],
    [PARIS, { at: "09:00", days: ["mon"] }, "2026-10-24T10:00:00Z", "2026-10-26T08:00:00.000Z"],
    [AUCKLAND, { at: "09:00", days: ["mon"] }, "2026-04-02T22:00:00Z", "2026-04-05T21:00:00.000Z"],
    [TOKYO, { at: "08:00" }, "2026-03-28T12:00:00Z", "2026-03-28T23:00:00.000Z"],
  ])("waits in %s until %o from %s to %s", (timezone, until, signedUpAt, expected) => {
    const waitUntil = signUp({
      id: "wait-until",
      start: "hold",
      steps: { hold: { type: "wait", until, next: "send" } },
    });

    const sent = simulate({
      scenarios: [waitUntil],
      traits: { timezone },
      events: [{ at: signedUpAt, event: "Signed Up" }],
    });

    expect(sentAt(sent)).toEqual([expected]);
  });

  // Held over the DST night: Paris 21:30 CET → 08:00 CEST, New York 21:30 EDT → 08:00 EST,
  // Auckland 22:00 NZST → 08:00 NZDT; Tokyo has no change; the last one is inside the hours.
  it.each([
    [PARIS, "2026-03-28T20:30:00Z", "2026-03-29T06:00:00.000Z"],
    [NEW_YORK, "2026-11-01T01:30:00Z", "2026-11-01T13:00:00.000Z"],
    [AUCKLAND, "2026-09-26T10:00:00Z", "2026-09-26T19:00:00.000Z"],
    [TOKYO, "2026-10-24T12:00:00Z", "2026-10-24T23:00:00.000Z"],
    [TOKYO, "2026-10-24T03:00:00Z", "2026-10-24T03:00:00.000Z"],
  ])("sends within 08:00–21:00 in %s: triggered at %s, sent at %s", (timezone, at, expected) => {
    const windowed = signUp({ id: "hours", sendWindow: { from: "08:00", to: "21:00" } });

    const sent = simulate({
      scenarios: [windowed],
      traits: { timezone },
      events: [{ at, event: "Signed Up" }],
    });

    expect(sentAt(sent)).toEqual([expected]);
  });

  it("holds a Saturday send until Monday 09:00 when the window is weekdays only", () => {
    const weekdays = signUp({
      id: "weekdays",
      sendWindow: { from: "09:00", to: "17:00", days: ["mon", "tue", "wed", "thu", "fri"] },
    });

    const sent = simulate({
      scenarios: [weekdays],
      traits: { timezone: PARIS },
      events: [{ at: "2026-10-24T08:00:00Z", event: "Signed Up" }],
    });

    expect(sentAt(sent)).toEqual(["2026-10-26T08:00:00.000Z"]);
  });

  it("keeps a 22:00–06:00 window open through the repeated New York hour", () => {
    const night = signUp({ id: "night", sendWindow: { from: "22:00", to: "06:00" } });
    const events = [
      { at: "2026-11-01T05:30:00Z", event: "Signed Up" },
      { at: "2026-11-01T06:30:00Z", event: "Signed Up" },
      { at: "2026-11-01T11:30:00Z", event: "Signed Up" },
    ];

    const sent = simulate({
      scenarios: [night],
      traits: { timezone: NEW_YORK },
      events,
    });

    // 01:30 EDT and 01:30 EST are inside; 06:30 EST waits for 22:00 EST.
    expect(sentAt(sent)).toEqual([
      "2026-11-01T05:30:00.000Z",
      "2026-11-01T06:30:00.000Z",
      "2026-11-02T03:00:00.000Z",
    ]);
  });
});

describe("an invalid timezone trait", () => {
  it.each([
    ["falls back to the scenario's zone", TOKYO, "2026-06-10T00:00:00.000Z"],
    ["falls back to UTC when the scenario has none", undefined, "2026-06-10T09:00:00.000Z"],
  ])("%s", (_name, scenarioZone, expected) => {
    const birthday = oneEmail({
      id: "zoned-birthday",
      trigger: { type: "date", trait: "birthday", at: "09:00" },
      ...(scenarioZone ? { timezone: scenarioZone } : {}),
    });

    const sent = simulate({
      scenarios: [birthday],
      traits: { birthday: "1990-06-10", timezone: "Mars/Olympus_Mons" },
    });

    expect(sentAt(sent)).toEqual([expected]);
  });

  it("falls back to the latest event's zone before the scenario's", () => {
    const windowed = oneEmail({
      id: "context-zone",
      timezone: TOKYO,
      trigger: { type: "event", event: "Signed Up" },
      sendWindow: { from: "08:00", to: "21:00" },
    });

    const sent = simulate({
      scenarios: [windowed],
      traits: { timezone: "Not/A_Zone" },
      events: [{ at: "2026-06-10T03:00:00Z", event: "Signed Up", timeZone: NEW_YORK }],
    });

    expect(sentAt(sent)).toEqual(["2026-06-10T12:00:00.000Z"]);
  });
});

describe("frequency caps", () => {
  const EMAIL_CAP: FrequencyCaps = { email: { max: 3, within: "P7D" } };
  const promo = (id: string, extra: Record<string, unknown> = {}) =>
    oneEmail({ id, trigger: { type: "event", event: `${id} due` }, ...extra });
  const daily = (id: string, days: number[], hour = "10:00") =>
    days.map((day) => ({ at: `2026-06-0${day}T${hour}:00Z`, event: `${id} due` }));
  /** A Paris contact under at most 3 marketing emails per 7 days unless `caps` says otherwise. */
  const capped = (
    scenarios: Scenario[],
    events: Array<{ at: string; event: string }>,
    caps = EMAIL_CAP,
  ) => simulate({ scenarios, traits: { timezone: PARIS }, events, caps });

  it("holds the 4th marketing email until the 1st leaves the 7-day window", () => {
    const sent = capped([promo("weekly-deals")], daily("weekly-deals", [1, 2, 3, 4]));

    // The window is (now - P7D, now]: the first send stops counting just after 7 days.
    expect(sentAt(sent)).toEqual([
      "2026-06-01T10:00:00.000Z",
      "2026-06-02T10:00:00.000Z",
      "2026-06-03T10:00:00.000Z",
      "2026-06-08T10:00:00.001Z",
    ]);
  });

  it("counts the 7 days on the contact's calendar across the New York spring change", () => {
    const events = [5, 6, 7, 8].map((day) => ({
      at: `2026-03-0${day}T15:00:00Z`,
      event: "weekly-deals due",
    }));

    const sent = simulate({
      scenarios: [promo("weekly-deals")],
      traits: { timezone: NEW_YORK },
      events,
      caps: EMAIL_CAP,
    });

    // 10:00 EST on 5 March plus seven local days is 10:00 EDT on 12 March: 167 hours.
    expect(sentAt(sent).at(-1)).toBe("2026-03-12T14:00:00.001Z");
  });

  it("drops the 4th as suppressed by the frequency cap when the scenario says drop", () => {
    const sent = capped(
      [promo("flash-sale", { frequencyCap: "drop" })],
      daily("flash-sale", [1, 2, 3, 4]),
    );

    expect(sent).toEqual([
      { at: "2026-06-01T10:00:00.000Z", scenario: "flash-sale", suppressed: null },
      { at: "2026-06-02T10:00:00.000Z", scenario: "flash-sale", suppressed: null },
      { at: "2026-06-03T10:00:00.000Z", scenario: "flash-sale", suppressed: null },
      { at: "2026-06-04T10:00:00.000Z", scenario: "flash-sale", suppressed: "frequency cap" },
    ]);
  });

  it("shares the cap across scenarios: the second scenario's 2nd email waits", () => {
    const sent = capped(
      [promo("deals-a"), promo("deals-b")],
      [...daily("deals-a", [1, 2]), ...daily("deals-b", [3, 4], "11:00")],
    );

    expect(sent.map((m) => `${m.scenario} ${m.at}`)).toEqual([
      "deals-a 2026-06-01T10:00:00.000Z",
      "deals-a 2026-06-02T10:00:00.000Z",
      "deals-b 2026-06-03T11:00:00.000Z",
      "deals-b 2026-06-08T10:00:00.001Z",
    ]);
  });

  it("never caps a transactional email and never counts it", () => {
    const receipt = promo("receipt", { consent: "transactional" });

    const sent = capped(
      [promo("weekly-deals"), receipt],
      [
        ...daily("receipt", [1, 2]),
        ...daily("weekly-deals", [3, 4, 5], "11:00"),
        ...daily("receipt", [6], "12:00"),
      ],
    );

    expect(sent.map((m) => `${m.scenario} ${m.at} ${m.suppressed}`)).toEqual([
      "receipt 2026-06-01T10:00:00.000Z null",
      "receipt 2026-06-02T10:00:00.000Z null",
      "weekly-deals 2026-06-03T11:00:00.000Z null",
      "weekly-deals 2026-06-04T11:00:00.000Z null",
      "weekly-deals 2026-06-05T11:00:00.000Z null",
      "receipt 2026-06-06T12:00:00.000Z null",
    ]);
  });

  it("counts two emails sent one after the other by the same run", () => {
    const double = parsed({
      id: "double",
      trigger: { type: "event", event: "double due" },
      reentry: { policy: "always" },
      steps: {
        send: { type: "send", channel: "email", template: "first", next: "second" },
        second: { type: "send", channel: "email", template: "second", next: "done" },
        done: { type: "exit" },
      },
    });

    const sent = capped([double], daily("double", [1, 2]));

    expect(sentAt(sent)).toEqual([
      "2026-06-01T10:00:00.000Z",
      "2026-06-01T10:00:00.000Z",
      "2026-06-02T10:00:00.000Z",
      "2026-06-08T10:00:00.001Z",
    ]);
  });

  it.each([
    ["no setting", {}],
    ["a max of 0", { email: { max: 0, within: "P7D" } }],
    ["a cap on another channel only", { sms: { max: 1, within: "P7D" } }],
  ] as Array<[string, FrequencyCaps]>)("sends every email at once with %s", (_name, caps) => {
    const sent = capped([promo("weekly-deals")], daily("weekly-deals", [1, 2, 3, 4, 5]), caps);

    expect(sentAt(sent)).toEqual([1, 2, 3, 4, 5].map((d) => `2026-06-0${d}T10:00:00.000Z`));
  });
});
