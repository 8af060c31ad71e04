import { Temporal } from "temporal-polyfill";

/**
 * An ISO 8601 duration split into calendar parts (years, months, weeks, days: local clock
 * time is kept across DST) and exact parts (hours, minutes, seconds: elapsed time).
 */
export interface Duration {
  sign: 1 | -1;
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION_PATTERN =
  /^([+-])?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses an ISO 8601 duration such as `P1D`, `PT4H` or `-P7D`; returns null when malformed. */
export function parseDuration(text: string): Duration | null {
  const match = DURATION_PATTERN.exec(text);
  if (!match || text.endsWith("T")) return null;

  const [, sign, years, months, weeks, days, hours, minutes, seconds] = match;
  const parts = [years, months, weeks, days, hours, minutes, seconds];
  if (parts.every((part) => part === undefined)) return null;

  return {
    sign: sign === "-" ? -1 : 1,
    years: Number(years ?? 0),
    months: Number(months ?? 0),
    weeks: Number(weeks ?? 0),
    days: Number(days ?? 0),
    hours: Number(hours ?? 0),
    minutes: Number(minutes ?? 0),
    seconds: Number(seconds ?? 0),
  };
}

/** True when the duration is zero in every part. */
export function isZeroDuration(duration: Duration): boolean {
  const { years, months, weeks, days, hours, minutes, seconds } = duration;
  return years + months + weeks + days + hours + minutes + seconds === 0;
}

/**
 * Adds a duration to an instant in a time zone: calendar parts move the local date and keep
 * the wall-clock time (a nonexistent local time moves forward), exact parts add elapsed time.
 */
export function addDuration(input: { atMs: number; duration: Duration; timeZone: string }): number {
  const { atMs, duration, timeZone } = input;
  const s = duration.sign;
  const start = Temporal.Instant.fromEpochMilliseconds(atMs).toZonedDateTimeISO(timeZone);
  const calendar = start.add(
    {
      years: s * duration.years,
      months: s * duration.months,
      weeks: s * duration.weeks,
      days: s * duration.days,
    },
    { overflow: "constrain" },
  );
  const exactMs =
    s * ((duration.hours * 60 + duration.minutes) * 60_000 + Math.round(duration.seconds * 1000));

  return calendar.epochMilliseconds + exactMs;
}

/** Parses then adds; the text must already have been validated. */
export function addIsoDuration(input: { atMs: number; iso: string; timeZone: string }): number {
  const duration = parseDuration(input.iso);
  if (!duration) throw new Error(`invalid duration ${input.iso}`);
  return addDuration({ atMs: input.atMs, duration, timeZone: input.timeZone });
}
