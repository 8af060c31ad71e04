import { Temporal } from "temporal-polyfill";
import type { Weekday } from "./scenario";
import { WEEKDAYS } from "./scenario";

const validity = new Map<string, boolean>();

/** True when the IANA zone is known to the runtime. */
export function isValidTimeZone(zone: string): boolean {
  const known = validity.get(zone);
  if (known !== undefined) return known;
  let valid = true;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    valid = false;
  }
  validity.set(zone, valid);
  return valid;
}

/**
 * The zone a contact's local times use: its `timezone` trait, else the latest event's
 * `context.timezone`, else the scenario's, else UTC. Invalid zones are skipped, never fatal.
 */
export function resolveTimeZone(candidates: Array<unknown>): string {
  for (const candidate of candidates) {
    if (typeof candidate === "string" && candidate !== "" && isValidTimeZone(candidate)) {
      return candidate;
    }
  }
  return "UTC";
}

function parseLocalTime(hhmm: string): Temporal.PlainTime {
  const [hour, minute] = hhmm.split(":").map(Number);
  return new Temporal.PlainTime(hour ?? 0, minute ?? 0);
}

function weekdayOf(date: Temporal.PlainDate): Weekday {
  return WEEKDAYS[date.dayOfWeek - 1] as Weekday;
}

/**
 * The local instant for a date and time of day; a time in the spring gap moves forward,
 * one in the autumn overlap takes the first occurrence.
 */
export function localInstantMs(input: {
  date: Temporal.PlainDate;
  time: string;
  timeZone: string;
}): number {
  return input.date.toZonedDateTime({
    timeZone: input.timeZone,
    plainTime: parseLocalTime(input.time),
  }).epochMilliseconds;
}

/** The next instant strictly after `afterMs` at local `at`, on one of `days` if given. */
export function nextLocalTime(input: {
  afterMs: number;
  at: string;
  days?: Weekday[];
  timeZone: string;
}): number {
  const today = Temporal.Instant.fromEpochMilliseconds(input.afterMs)
    .toZonedDateTimeISO(input.timeZone)
    .toPlainDate();
  for (let offset = 0; offset <= 8; offset++) {
    const date = today.add({ days: offset });
    if (input.days && !input.days.includes(weekdayOf(date))) continue;
    const candidateMs = localInstantMs({ date, time: input.at, timeZone: input.timeZone });
    if (candidateMs > input.afterMs) return candidateMs;
  }
  throw new Error("no allowed day in the next week");
}

export interface SendWindow {
  from: string;
  to: string;
  days?: Weekday[];
}

/** `atMs` when it falls inside the window in the zone, else the window's next opening. */
export function nextWindowOpening(input: {
  atMs: number;
  window: SendWindow;
  timeZone: string;
}): number {
  const { atMs, window, timeZone } = input;
  const local = Temporal.Instant.fromEpochMilliseconds(atMs).toZonedDateTimeISO(timeZone);
  const minutes = local.hour * 60 + local.minute;
  const fromMinutes = toMinutes(window.from);
  const toMinutesOfDay = toMinutes(window.to);
  const dayAllowed = !window.days || window.days.includes(weekdayOf(local.toPlainDate()));
  const inHours =
    fromMinutes <= toMinutesOfDay
      ? minutes >= fromMinutes && minutes < toMinutesOfDay
      : minutes >= fromMinutes || minutes < toMinutesOfDay;
  if (dayAllowed && inHours) return atMs;

  return nextLocalTime({ afterMs: atMs, at: window.from, days: window.days, timeZone });
}

function toMinutes(hhmm: string): number {
  const [hour, minute] = hhmm.split(":").map(Number);
  return (hour ?? 0) * 60 + (minute ?? 0);
}

/** ISO 8601 local date-time with offset, for showing a UTC instant beside the contact's clock. */
export function formatLocal(atMs: number, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(atMs)
    .toZonedDateTimeISO(timeZone)
    .toString({ timeZoneName: "never", smallestUnit: "second" });
}
