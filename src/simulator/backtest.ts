/**
 * Backtests a scenario over recorded Segment calls: each contact's calls go through the contact
 * engine on a virtual clock (the engine the contact object runs, on memory instead of SQLite)
 * and what happened is counted per ISO week. Pure, so the CLI and the workerd tests share it.
 */
import type { Condition } from "../engine/condition";
import { addIsoDuration, parseDuration } from "../engine/duration";
import type { FrequencyCaps } from "../engine/send-rules";
import type { Channel, Scenario } from "../engine/scenario";
import { callSchema, contactIdOf, toIngestCall } from "../ingest/segment-call";
import type { SegmentCall } from "../replay/retail";
import { MemoryContactState } from "./memory-state";
import { isSend, runOnVirtualClock, type TimedInput } from "./virtual-clock";

/** How long after the last recorded event the clock keeps running for waits to play out. */
export const DEFAULT_BACKTEST_HORIZON = "P30D";

const DAY_MS = 86_400_000;

/** What happened in one ISO week (Monday to Sunday, UTC), or over the whole backtest. */
export interface BacktestCounts {
  /** Distinct contacts with at least one call. */
  contactsSeen: number;
  /** Distinct contacts that started at least one run. */
  contactsEntered: number;
  /** Runs started; a contact re-entering counts once per run. */
  entries: number;
  /** Messages handed to the queue, by send step id. */
  sent: Record<string, number>;
  /** Messages the engine suppressed (consent, frequency cap), by send step id. */
  suppressed: Record<string, number>;
  /** Runs that reached the goal, counted when they converted. */
  goals: number;
}

export interface BacktestWeek extends BacktestCounts {
  /** ISO week label, e.g. `2010-W48`. */
  week: string;
}

export interface BacktestReport {
  scenarioId: string;
  version: number;
  /** The scenario's send steps, in document order: the report's message columns. */
  sendSteps: Array<{ stepId: string; channel: Channel; template: string }>;
  calls: number;
  /** Calls without a contact id or a parseable timestamp, left out. */
  skippedCalls: number;
  firstEventAt: string | null;
  lastEventAt: string | null;
  horizon: string;
  /** Where the virtual clock stopped: the last event plus the horizon. */
  endAt: string | null;
  /** Weeks in which anything was seen or happened, in order. */
  weeks: BacktestWeek[];
  totals: BacktestCounts;
}

/** Per-week sets and counters while contacts are being run. */
interface WeekTally {
  seen: Set<string>;
  entered: Set<string>;
  entries: number;
  sent: Map<string, number>;
  suppressed: Map<string, number>;
  goals: number;
}

/**
 * Runs every contact of `calls` through one scenario and counts entries, messages per send step
 * and goals per week. Each contact starts from an empty state; the clock runs until the last
 * call plus `horizon` (UTC), so waits begun near the end still play out. Deterministic.
 */
export function backtest(input: {
  scenario: Scenario;
  version?: number;
  segments: Record<string, Condition>;
  calls: SegmentCall[];
  horizon?: string;
  caps?: FrequencyCaps;
}): BacktestReport {
  const { scenario } = input;
  const version = input.version ?? 1;
  const horizon = input.horizon ?? DEFAULT_BACKTEST_HORIZON;
  if (parseDuration(horizon) === null || horizon.startsWith("-")) {
    throw new RangeError(`horizon is not an ISO 8601 duration: ${horizon}`);
  }

  const { byContact, skipped } = groupByContact(input.calls);
  let firstMs: number | null = null;
  let lastMs: number | null = null;
  for (const { atMs } of [...byContact.values()].flat()) {
    if (firstMs === null || atMs < firstMs) firstMs = atMs;
    if (lastMs === null || atMs > lastMs) lastMs = atMs;
  }
  const endMs =
    lastMs === null ? null : addIsoDuration({ atMs: lastMs, iso: horizon, timeZone: "UTC" });

  const weeks = new Map<string, WeekTally>();
  const tallyOf = (atMs: number): WeekTally => {
    const week = isoWeekOf(atMs);
    let tally = weeks.get(week);
    if (!tally) {
      tally = emptyTally();
      weeks.set(week, tally);
    }
    return tally;
  };
  const catalog = { scenarios: [{ scenario, version }], segments: input.segments };

  for (const [contactId, inputs] of byContact) {
    for (const timed of inputs) tallyOf(timed.atMs).seen.add(contactId);

    const state = new MemoryContactState();
    const steps = runOnVirtualClock({
      state,
      contactId,
      catalog,
      inputs,
      // Every contact has at least one call, so there is a last event and an end.
      endMs: endMs as number,
      caps: input.caps,
    });

    const counted = new Set<string>();
    for (const { job } of steps.flatMap((step) => step.output.jobs)) {
      if (!isSend(job) || job.scenarioId !== scenario.id || job.stepId === null) continue;
      if (counted.has(job.messageId)) continue;
      counted.add(job.messageId);
      // A message counts in the week it was queued, which is when the live object sends it.
      const tally = tallyOf(job.createdAtMs);
      const byStep = job.suppressedReason === null ? tally.sent : tally.suppressed;
      byStep.set(job.stepId, (byStep.get(job.stepId) ?? 0) + 1);
    }
    for (const run of state.readRuns()) {
      if (run.scenarioId !== scenario.id) continue;
      const entered = tallyOf(run.enteredAtMs);
      entered.entries += 1;
      entered.entered.add(contactId);
      if (run.convertedAtMs !== null) tallyOf(run.convertedAtMs).goals += 1;
    }
  }

  const sendSteps = Object.entries(scenario.steps).flatMap(([stepId, step]) =>
    step.type === "send" ? [{ stepId, channel: step.channel, template: step.template }] : [],
  );
  const stepIds = sendSteps.map((step) => step.stepId);
  const ordered = [...weeks.entries()].sort(([a], [b]) => a.localeCompare(b));
  return {
    scenarioId: scenario.id,
    version,
    sendSteps,
    calls: input.calls.length,
    skippedCalls: skipped,
    firstEventAt: firstMs === null ? null : new Date(firstMs).toISOString(),
    lastEventAt: lastMs === null ? null : new Date(lastMs).toISOString(),
    horizon,
    endAt: endMs === null ? null : new Date(endMs).toISOString(),
    weeks: ordered.map(([week, tally]) => ({ week, ...countsOf(tally, stepIds) })),
    totals: countsOf(mergeTallies(ordered.map(([, tally]) => tally)), stepIds),
  };
}

/**
 * Each contact's calls as engine inputs, in the order given (the virtual clock sorts them
 * stably, so an identify stays before an order at the same instant). The contact id is the
 * ingestion route's: the user id, else `anon:` and the anonymous id.
 */
function groupByContact(calls: SegmentCall[]): {
  byContact: Map<string, TimedInput[]>;
  skipped: number;
} {
  const byContact = new Map<string, TimedInput[]>();
  let skipped = 0;
  for (const call of calls) {
    // Validated exactly as `/v1/batch` validates it, and converted the same way.
    const parsed = callSchema.safeParse(call);
    const contactId = parsed.success ? contactIdOf(parsed.data) : null;
    const atMs = Date.parse(call.timestamp);
    if (!parsed.success || contactId === null || Number.isNaN(atMs)) {
      skipped += 1;
      continue;
    }
    const inputs = byContact.get(contactId) ?? [];
    inputs.push({ atMs, kind: "call", call: toIngestCall(parsed.data) });
    byContact.set(contactId, inputs);
  }
  return { byContact, skipped };
}

function emptyTally(): WeekTally {
  return {
    seen: new Set(),
    entered: new Set(),
    entries: 0,
    sent: new Map(),
    suppressed: new Map(),
    goals: 0,
  };
}

function mergeTallies(tallies: WeekTally[]): WeekTally {
  const total = emptyTally();
  for (const tally of tallies) {
    for (const id of tally.seen) total.seen.add(id);
    for (const id of tally.entered) total.entered.add(id);
    total.entries += tally.entries;
    total.goals += tally.goals;
    for (const [into, from] of [
      [total.sent, tally.sent],
      [total.suppressed, tally.suppressed],
    ] as const) {
      for (const [stepId, count] of from) into.set(stepId, (into.get(stepId) ?? 0) + count);
    }
  }
  return total;
}

/** Every send step gets a count, zero included, so tables and JSON keep the same columns. */
function countsOf(tally: WeekTally, stepIds: string[]): BacktestCounts {
  const perStep = (counts: Map<string, number>) =>
    Object.fromEntries(stepIds.map((stepId) => [stepId, counts.get(stepId) ?? 0]));
  return {
    contactsSeen: tally.seen.size,
    contactsEntered: tally.entered.size,
    entries: tally.entries,
    sent: perStep(tally.sent),
    suppressed: perStep(tally.suppressed),
    goals: tally.goals,
  };
}

/** The ISO 8601 week of a UTC instant, as `YYYY-Www`; weeks start on Monday. */
export function isoWeekOf(atMs: number): string {
  const date = new Date(atMs);
  const mondayBased = (date.getUTCDay() + 6) % 7;
  // The week belongs to the year of its Thursday.
  const thursdayMs = Date.UTC(
    date.getUTCFullYear(),
    date.getUTCMonth(),
    date.getUTCDate() - mondayBased + 3,
  );
  const year = new Date(thursdayMs).getUTCFullYear();
  const week = 1 + Math.floor((thursdayMs - Date.UTC(year, 0, 1)) / DAY_MS / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}
