import { Temporal } from "temporal-polyfill";
import type { ContactEvent, ContactSnapshot } from "./contact";
import { addIsoDuration } from "./duration";
import { evaluate } from "./evaluate";
import type { Condition } from "./condition";
import { contactTimeZone, eventMatches, runTimeOf } from "./interpreter";
import type { Scenario } from "./scenario";
import { localInstantMs } from "./time-zone";

/** Local time of a date trigger without `at`. */
export const DEFAULT_DATE_TRIGGER_AT = "09:00";

const DATE_PREFIX = /^(\d{4})-(\d{2})-(\d{2})/;

/** Month and day of a date or date-time trait, or null when it is not one. */
export function anniversaryOf(value: unknown): { month: number; day: number } | null {
  if (typeof value !== "string") return null;
  const match = DATE_PREFIX.exec(value);
  if (!match) return null;
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  return { month, day };
}

/** One occurrence of a yearly date trigger: when it fires and the year it stands for. */
export interface Occurrence {
  dueAtMs: number;
  key: string;
}

/**
 * The first anniversary occurrence strictly after `afterMs`, in the contact's zone: the trait's
 * month and day in each year (29 February on 28 February in common years), plus the offset, at
 * the local time of day.
 */
export function nextAnniversary(input: {
  value: unknown;
  offset?: string;
  at?: string;
  timeZone: string;
  afterMs: number;
}): Occurrence | null {
  const anniversary = anniversaryOf(input.value);
  if (!anniversary) return null;
  const localYear = Temporal.Instant.fromEpochMilliseconds(input.afterMs).toZonedDateTimeISO(
    input.timeZone,
  ).year;

  for (let year = localYear - 1; year <= localYear + 2; year++) {
    const date = Temporal.PlainDate.from(
      { year, month: anniversary.month, day: anniversary.day },
      { overflow: "constrain" },
    );
    const dayMs = localInstantMs({
      date,
      time: input.at ?? DEFAULT_DATE_TRIGGER_AT,
      timeZone: input.timeZone,
    });
    const dueAtMs = input.offset
      ? addIsoDuration({ atMs: dayMs, iso: input.offset, timeZone: input.timeZone })
      : dayMs;
    if (dueAtMs > input.afterMs) return { dueAtMs, key: String(year) };
  }
  return null;
}

/** The last event that counts as activity for an inactivity trigger, or null. */
export function lastActivityMs(input: {
  scenario: Scenario;
  contact: ContactSnapshot;
  segments: Record<string, Condition>;
  nowMs: number;
}): number | null {
  const trigger = input.scenario.trigger;
  if (trigger.type !== "inactivity") return null;
  const ctx = {
    contact: input.contact,
    nowMs: input.nowMs,
    timeZone: contactTimeZone(input.scenario, input.contact),
    segments: input.segments,
  };
  let latest: number | null = null;
  for (const event of input.contact.events) {
    if (!eventMatches({ filter: trigger, event, ctx })) continue;
    const atMs = runTimeOf(event);
    if (latest === null || atMs > latest) latest = atMs;
  }
  return latest;
}

/** When an inactivity trigger fires: its duration after the last activity (or first sight). */
export function inactivityDueMs(input: {
  scenario: Scenario;
  sinceMs: number;
  timeZone: string;
}): number | null {
  const trigger = input.scenario.trigger;
  if (trigger.type !== "inactivity") return null;
  return addIsoDuration({ atMs: input.sinceMs, iso: trigger.for, timeZone: input.timeZone });
}

/** Whether a condition or segment trigger's condition holds for the contact now. */
export function triggerConditionHolds(input: {
  scenario: Scenario;
  contact: ContactSnapshot;
  segments: Record<string, Condition>;
  nowMs: number;
}): boolean | null {
  const trigger = input.scenario.trigger;
  const ctx = {
    contact: input.contact,
    nowMs: input.nowMs,
    timeZone: contactTimeZone(input.scenario, input.contact),
    segments: input.segments,
  };
  if (trigger.type === "condition") return evaluate(trigger.condition, ctx);
  if (trigger.type === "segment") return evaluate({ segment: trigger.segment }, ctx);
  return null;
}

/** A synthetic starting event for runs that no event started (dates, inactivity, API, campaigns). */
export function syntheticTrigger(input: {
  id: string;
  name: string;
  properties: Record<string, unknown>;
  atMs: number;
  nowMs: number;
}): ContactEvent {
  return {
    id: input.id,
    type: "track",
    name: input.name,
    properties: input.properties,
    atMs: input.atMs,
    receivedAtMs: input.nowMs,
  };
}
