import type { Condition } from "./condition";
import type { ContactEvent, ContactSnapshot } from "./contact";
import { addIsoDuration } from "./duration";
import { evaluate } from "./evaluate";
import { contactTimeZone, eventMatches, runTimeOf } from "./interpreter";
import { consentBlock } from "./send-rules";
import type { RunState } from "./run";
import type { Scenario } from "./scenario";

/** A contact's past runs of one scenario, as entry rules need them. */
export interface EntryHistory {
  live: boolean;
  lastEnteredAtMs: number | null;
}

export type EntryDecision =
  | { enter: true }
  | {
      enter: false;
      reason: "live_run" | "reentry_once" | "reentry_after" | "audience" | "consent";
    };

/** True when an event starts this scenario (an `event` trigger whose filter matches). */
export function eventTriggers(input: {
  scenario: Scenario;
  event: ContactEvent;
  contact: ContactSnapshot;
  segments: Record<string, Condition>;
  nowMs: number;
}): boolean {
  const { scenario, event, contact, segments, nowMs } = input;
  const trigger = scenario.trigger;
  if (trigger.type !== "event") return false;
  const ctx = {
    contact,
    nowMs,
    timeZone: contactTimeZone(scenario, contact),
    segments,
    trigger: event,
  };
  return eventMatches({ filter: trigger, event, ctx });
}

/** Whether a contact may enter now: re-entry, then audience, then consent. */
export function decideEntry(input: {
  scenario: Scenario;
  contact: ContactSnapshot;
  history: EntryHistory;
  trigger: ContactEvent | null;
  segments: Record<string, Condition>;
  nowMs: number;
}): EntryDecision {
  const { scenario, contact, history, trigger, segments, nowMs } = input;
  const timeZone = contactTimeZone(scenario, contact);

  if (history.live) return { enter: false, reason: "live_run" };
  const reentry = scenario.reentry;
  if (history.lastEnteredAtMs !== null) {
    if (reentry.policy === "once") return { enter: false, reason: "reentry_once" };
    if (reentry.policy === "after") {
      const allowedAtMs = addIsoDuration({
        atMs: history.lastEnteredAtMs,
        iso: reentry.after,
        timeZone,
      });
      if (nowMs < allowedAtMs) return { enter: false, reason: "reentry_after" };
    }
  }

  if (scenario.audience) {
    const ctx = { contact, nowMs, timeZone, segments, trigger };
    if (!evaluate(scenario.audience, ctx)) return { enter: false, reason: "audience" };
  }

  // A contact enters when at least one of the scenario's messages may reach someone.
  const channels = Object.values(scenario.steps).flatMap((step) =>
    step.type === "send" ? [step.channel] : [],
  );
  const blocked = channels.every((channel) =>
    consentBlock({ contact, topic: scenario.consent, channel }),
  );
  if (channels.length > 0 && blocked) return { enter: false, reason: "consent" };
  return { enter: true };
}

/** True when an event ends a live run at once. */
export function eventExits(input: {
  scenario: Scenario;
  run: RunState;
  event: ContactEvent;
  contact: ContactSnapshot;
  segments: Record<string, Condition>;
  nowMs: number;
}): boolean {
  const { scenario, run, event, contact, segments, nowMs } = input;
  if (!scenario.exit || run.status !== "active" || runTimeOf(event) < run.enteredAtMs) return false;
  if (event.id === run.trigger?.id) return false;
  const ctx = {
    contact,
    nowMs,
    timeZone: contactTimeZone(scenario, contact),
    segments,
    trigger: run.trigger,
  };
  return scenario.exit.some((filter) => eventMatches({ filter, event, ctx }));
}

/** True when an event is this run's conversion: the goal event within its window, first time. */
export function eventConverts(input: {
  scenario: Scenario;
  run: RunState;
  event: ContactEvent;
  contact: ContactSnapshot;
  segments: Record<string, Condition>;
  nowMs: number;
}): boolean {
  const { scenario, run, event, contact, segments, nowMs } = input;
  const goal = scenario.goal;
  if (!goal || run.convertedAtMs !== null || run.goalDeadlineMs === null) return false;
  if (event.id === run.trigger?.id) return false;
  const atMs = runTimeOf(event);
  if (atMs < run.enteredAtMs || atMs > run.goalDeadlineMs) return false;
  const ctx = {
    contact,
    nowMs,
    timeZone: contactTimeZone(scenario, contact),
    segments,
    trigger: run.trigger,
  };
  return eventMatches({ filter: goal, event, ctx });
}
