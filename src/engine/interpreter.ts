import type { Condition } from "./condition";
import type { ContactEvent, ContactSnapshot } from "./contact";
import { addIsoDuration } from "./duration";
import { evaluate, type EvaluationContext } from "./evaluate";
import { capReleaseMs, consentBlock, messageKey, type FrequencyCaps } from "./send-rules";
import type { Effect, RunState, RunWait, TraceEntry } from "./run";
import type { EventFilter, Scenario, Step, StepOf } from "./scenario";
import { nextLocalTime, nextWindowOpening, resolveTimeZone } from "./time-zone";

/** What woke a run. */
export type RunInput =
  | { kind: "start" }
  | { kind: "timer" }
  | { kind: "event"; event: ContactEvent }
  | { kind: "engagement"; messageId: string };

export interface AdvanceInput {
  scenario: Scenario;
  run: RunState;
  input: RunInput;
  contact: ContactSnapshot;
  segments: Record<string, Condition>;
  nowMs: number;
  caps?: FrequencyCaps;
}

export interface AdvanceResult {
  run: RunState;
  effects: Effect[];
  trace: TraceEntry[];
  /** Traits after this advance's `update` steps. */
  traits: Record<string, unknown>;
}

/**
 * How long after an engagement wait's deadline the run is woken: opens and clicks reach the
 * object through trackers and provider callbacks, seconds or minutes after they happened.
 */
export const ENGAGEMENT_GRACE_MS = 2 * 60_000;

/** How late a send may go out (after a pause) unless the scenario says `maxLateness`. */
export const DEFAULT_MAX_LATENESS = "P1D";

/** Guards against a graph the validator should have refused. */
const MAX_STEPS_PER_ADVANCE = 200;

/** The zone a scenario uses for a contact. */
export function contactTimeZone(scenario: Scenario, contact: ContactSnapshot): string {
  return resolveTimeZone([contact.traits.timezone, contact.contextTimeZone, scenario.timezone]);
}

/** Stable fraction in [0, 1) for a split: the same contact always lands in the same variant. */
export function stableFraction(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 0x1_0000_0000;
}

/**
 * When an event happened as far as a run is concerned: its receipt. A sender's `timestamp` may
 * be historical (a replay) or skewed; it stays the event time for history windows.
 */
export function runTimeOf(event: ContactEvent): number {
  return event.receivedAtMs;
}

/** A fresh run, not yet advanced. */
export function newRun(input: {
  id: string;
  scenario: Scenario;
  version: number;
  trigger: ContactEvent | null;
  enteredAtMs: number;
  timeZone: string;
}): RunState {
  const { scenario } = input;
  return {
    id: input.id,
    scenarioId: scenario.id,
    version: input.version,
    status: "active",
    enteredAtMs: input.enteredAtMs,
    trigger: input.trigger,
    seq: 0,
    wait: null,
    sent: {},
    variants: {},
    endedAtMs: null,
    endReason: null,
    goalDeadlineMs: scenario.goal
      ? addIsoDuration({
          atMs: input.enteredAtMs,
          iso: scenario.goal.within,
          timeZone: input.timeZone,
        })
      : null,
    convertedAtMs: null,
  };
}

/** True when an event satisfies a name and an optional `where`, evaluated for this run. */
export function eventMatches(input: {
  filter: EventFilter;
  event: ContactEvent;
  ctx: EvaluationContext;
}): boolean {
  const { filter, event, ctx } = input;
  if (event.name !== filter.event) return false;
  return !filter.where || evaluate(filter.where, { ...ctx, properties: event.properties });
}

/**
 * Moves a run forward from an input until it waits or ends. Pure: the caller persists the
 * returned run and carries out the effects; `nowMs` is the only clock.
 */
export function advanceRun(args: AdvanceInput): AdvanceResult {
  const { scenario, input, contact, segments, nowMs } = args;
  const run: RunState = structuredClone(args.run);
  const traits = { ...contact.traits };
  const effects: Effect[] = [];
  const trace: TraceEntry[] = [];
  const timeZone = contactTimeZone(scenario, contact);

  // Sends made earlier in this advance count toward the frequency cap of the next send step.
  const sends = [...(contact.sends ?? [])];
  const context = (atMs: number): EvaluationContext => ({
    contact: { ...contact, traits, sends },
    nowMs: atMs,
    timeZone,
    segments,
    trigger: run.trigger,
    sentMessages: run.sent,
  });

  if (run.status !== "active") return { run, effects, trace, traits };

  let clockMs = nowMs;
  let stepId: string | null = null;

  if (input.kind === "start") {
    stepId = scenario.start;
    trace.push({
      atMs: clockMs,
      stepId: null,
      kind: "enter",
      detail: run.trigger?.name ?? "enter",
    });
    effects.push({ type: "metric", stepId: scenario.start, metric: "entered", atMs: clockMs });
  } else {
    const resumed = resume({ scenario, run, input, nowMs, context });
    if (!resumed) return { run, effects, trace, traits };
    clockMs = resumed.atMs;
    stepId = resumed.next;
    run.wait = null;
    trace.push({ atMs: clockMs, stepId: resumed.from, kind: "resume", detail: resumed.reason });
    if (resumed.metric) {
      effects.push({ type: "metric", stepId: resumed.from, metric: resumed.metric, atMs: clockMs });
    }
    if (resumed.runStep) {
      stepId = resumed.from;
    }
  }

  for (let count = 0; stepId !== null; count++) {
    if (count >= MAX_STEPS_PER_ADVANCE) throw new Error(`run ${run.id} exceeded the step limit`);
    const step = scenario.steps[stepId] as Step;
    const outcome = executeStep({
      scenario,
      run,
      stepId,
      step,
      clockMs,
      timeZone,
      ctx: context(clockMs),
      traits,
      effects,
      trace,
      caps: args.caps ?? {},
      nowMs,
    });
    stepId = outcome;
  }

  return { run, effects, trace, traits };
}

interface Resumption {
  from: string;
  next: string;
  atMs: number;
  reason: string;
  metric: "then" | "timeout" | null;
  /** True when the parked step itself runs again (a send held by the window). */
  runStep: boolean;
}

function resume(input: {
  scenario: Scenario;
  run: RunState;
  input: RunInput;
  nowMs: number;
  context: (atMs: number) => EvaluationContext;
}): Resumption | null {
  const { scenario, run, nowMs, context } = input;
  const wait = run.wait;
  if (!wait) return null;
  const step = scenario.steps[wait.stepId] as Step;

  if (input.input.kind === "timer") {
    if (wait.dueAtMs > nowMs) {
      // An early look after a click settled: take the "then" path if a person's engagement is
      // there now, else keep waiting for the deadline.
      if (!wait.checkAtMs || wait.checkAtMs > nowMs || step.type !== "wait_for") return null;
      wait.checkAtMs = null;
      const matched = satisfiedDuringWait({ step, wait, run, ctx: context(nowMs) });
      if (matched === null) return null;
      return {
        from: wait.stepId,
        next: step.then,
        atMs: nowMs,
        reason: step.engagement?.kind ?? "matched",
        metric: "then",
        runStep: false,
      };
    }
    if (step.type === "wait_for") {
      const deadlineMs = wait.deadlineMs ?? wait.dueAtMs;
      const early = satisfiedDuringWait({ step, wait, run, ctx: context(deadlineMs) });
      if (early !== null) {
        return {
          from: wait.stepId,
          next: step.then,
          atMs: early,
          reason: "matched",
          metric: "then",
          runStep: false,
        };
      }
      return {
        from: wait.stepId,
        next: step.timeout,
        atMs: deadlineMs,
        reason: "timeout",
        metric: "timeout",
        runStep: false,
      };
    }
    if (step.type === "send") {
      return {
        from: wait.stepId,
        next: wait.stepId,
        atMs: wait.dueAtMs,
        reason: wait.kind === "cap" ? "frequency cap freed" : "window open",
        metric: null,
        runStep: true,
      };
    }
    if (step.type === "wait") {
      return {
        from: wait.stepId,
        next: step.next,
        atMs: wait.dueAtMs,
        reason: "elapsed",
        metric: null,
        runStep: false,
      };
    }
    return null;
  }

  if (step.type !== "wait_for") return null;
  const ctx = context(nowMs);
  if (input.input.kind === "event" && step.event) {
    const event = input.input.event;
    const atMs = runTimeOf(event);
    const deadlineMs = wait.deadlineMs ?? wait.dueAtMs;
    if (atMs > deadlineMs || atMs < run.enteredAtMs || event.id === run.trigger?.id) return null;
    if (!eventMatches({ filter: step.event, event, ctx })) return null;
    return {
      from: wait.stepId,
      next: step.then,
      atMs: nowMs,
      reason: `event ${event.name}`,
      metric: "then",
      runStep: false,
    };
  }
  if (input.input.kind === "engagement" && step.engagement) {
    const matched = satisfiedDuringWait({ step, wait, run, ctx });
    if (matched === null) return null;
    return {
      from: wait.stepId,
      next: step.then,
      atMs: nowMs,
      reason: step.engagement.kind,
      metric: "then",
      runStep: false,
    };
  }
  return null;
}

/** When a wait_for is already satisfied by history within its window, the time it was. */
function satisfiedDuringWait(input: {
  step: StepOf<"wait_for">;
  wait: Pick<RunWait, "startedAtMs" | "dueAtMs" | "deadlineMs">;
  run: RunState;
  ctx: EvaluationContext;
}): number | null {
  const { step, wait, run, ctx } = input;
  const deadlineMs = wait.deadlineMs ?? wait.dueAtMs;
  if (step.event) {
    const filter = step.event;
    const found = ctx.contact.events.find(
      (event) =>
        event.id !== run.trigger?.id &&
        runTimeOf(event) >= run.enteredAtMs &&
        runTimeOf(event) <= deadlineMs &&
        eventMatches({ filter, event, ctx }),
    );
    return found ? runTimeOf(found) : null;
  }
  const engagement = step.engagement;
  const messageId = engagement ? run.sent[engagement.step] : undefined;
  if (!engagement || !messageId) return null;
  const found = ctx.contact.engagements.find(
    (e) =>
      e.messageId === messageId && e.kind === engagement.kind && !e.machine && e.atMs <= deadlineMs,
  );
  return found ? found.atMs : null;
}

function executeStep(input: {
  scenario: Scenario;
  run: RunState;
  stepId: string;
  step: Step;
  clockMs: number;
  timeZone: string;
  ctx: EvaluationContext;
  traits: Record<string, unknown>;
  effects: Effect[];
  trace: TraceEntry[];
  caps: FrequencyCaps;
  nowMs: number;
}): string | null {
  const { scenario, run, stepId, step, clockMs, timeZone, ctx, traits, effects, trace } = input;
  const park = (wait: RunWait, detail: string): null => {
    run.wait = wait;
    trace.push({ atMs: clockMs, stepId, kind: "wait", detail });
    effects.push({ type: "metric", stepId, metric: "waiting", atMs: clockMs });
    return null;
  };

  run.seq += 1;
  effects.push({ type: "metric", stepId, metric: "executed", atMs: clockMs });

  switch (step.type) {
    case "send": {
      // A send runs late when its scenario was paused: the window is checked when it really
      // goes out, and one later than the scenario allows is dropped, not sent out of context.
      const sendAtMs = Math.max(clockMs, input.nowMs);
      if (scenario.sendWindow) {
        const opensAtMs = nextWindowOpening({
          atMs: sendAtMs,
          window: scenario.sendWindow,
          timeZone,
        });
        if (opensAtMs > sendAtMs) {
          return park(
            { kind: "window", stepId, startedAtMs: clockMs, dueAtMs: opensAtMs },
            "send window closed",
          );
        }
      }
      const lateByMs = sendAtMs - clockMs;
      const allowedMs =
        addIsoDuration({
          atMs: clockMs,
          iso: scenario.maxLateness ?? DEFAULT_MAX_LATENESS,
          timeZone,
        }) - clockMs;
      if (lateByMs > allowedMs) {
        const key = messageKey({ contactId: ctx.contact.id, run, stepId });
        const reason = `late by ${Math.round(lateByMs / 60_000)} min`;
        effects.push({
          type: "suppress",
          key,
          stepId,
          channel: step.channel,
          template: step.template,
          reason,
          atMs: clockMs,
        });
        effects.push({ type: "metric", stepId, metric: "suppressed", atMs: clockMs });
        trace.push({ atMs: clockMs, stepId, kind: "suppress", detail: reason });
        return step.next;
      }
      const transactional = scenario.consent === "transactional";
      const capFreeAtMs = transactional
        ? null
        : capReleaseMs({
            caps: input.caps,
            channel: step.channel,
            contact: ctx.contact,
            atMs: clockMs,
            timeZone,
          });
      if (capFreeAtMs !== null && scenario.frequencyCap !== "drop") {
        return park(
          { kind: "cap", stepId, startedAtMs: clockMs, dueAtMs: capFreeAtMs },
          "frequency cap reached",
        );
      }
      const key = messageKey({ contactId: ctx.contact.id, run, stepId });
      run.sent[stepId] = key;
      if (capFreeAtMs !== null) {
        effects.push({
          type: "suppress",
          key,
          stepId,
          channel: step.channel,
          template: step.template,
          reason: "frequency cap",
          atMs: clockMs,
        });
        effects.push({ type: "metric", stepId, metric: "suppressed", atMs: clockMs });
        trace.push({ atMs: clockMs, stepId, kind: "suppress", detail: "frequency cap" });
        return step.next;
      }
      const blocked = consentBlock({
        contact: ctx.contact,
        topic: scenario.consent,
        channel: step.channel,
      });
      if (blocked) {
        effects.push({
          type: "suppress",
          key,
          stepId,
          channel: step.channel,
          template: step.template,
          reason: blocked,
          atMs: clockMs,
        });
        effects.push({ type: "metric", stepId, metric: "suppressed", atMs: clockMs });
        trace.push({ atMs: clockMs, stepId, kind: "suppress", detail: blocked });
      } else {
        effects.push({
          type: "send",
          key,
          stepId,
          channel: step.channel,
          template: step.template,
          to: step.to ?? null,
          topic: scenario.consent,
          transactional,
          atMs: clockMs,
        });
        const marketing = !transactional && step.channel !== "internal";
        ctx.contact.sends?.push({ channel: step.channel, marketing, atMs: clockMs });
        effects.push({ type: "metric", stepId, metric: "sent", atMs: clockMs });
        trace.push({
          atMs: clockMs,
          stepId,
          kind: "send",
          detail: `${step.channel} ${step.template}`,
        });
      }
      return step.next;
    }
    case "wait": {
      const dueAtMs = step.duration
        ? addIsoDuration({ atMs: clockMs, iso: step.duration, timeZone })
        : nextLocalTime({
            afterMs: clockMs,
            at: step.until?.at ?? "00:00",
            days: step.until?.days,
            timeZone,
          });
      return park(
        { kind: step.duration ? "duration" : "until", stepId, startedAtMs: clockMs, dueAtMs },
        step.duration ?? `until ${step.until?.at}`,
      );
    }
    case "wait_for": {
      const deadlineMs = addIsoDuration({ atMs: clockMs, iso: step.within, timeZone });
      const wait: RunWait = {
        kind: step.event ? "event" : "engagement",
        stepId,
        startedAtMs: clockMs,
        dueAtMs: step.engagement ? deadlineMs + ENGAGEMENT_GRACE_MS : deadlineMs,
        deadlineMs,
      };
      if (satisfiedDuringWait({ step, wait, run, ctx }) !== null) {
        trace.push({ atMs: clockMs, stepId, kind: "resume", detail: "already happened" });
        effects.push({ type: "metric", stepId, metric: "then", atMs: clockMs });
        return step.then;
      }
      const what = step.event
        ? `event ${step.event.event}`
        : `${step.engagement?.kind} ${step.engagement?.step}`;
      return park(wait, `${what} within ${step.within}`);
    }
    case "branch": {
      const chosen = step.cases.find((c) => evaluate(c.if, ctx));
      const next = chosen ? chosen.next : step.else;
      trace.push({
        atMs: clockMs,
        stepId,
        kind: "branch",
        detail: chosen ? `case -> ${next}` : `else -> ${next}`,
      });
      return next;
    }
    case "split": {
      const total = step.variants.reduce((sum, v) => sum + v.weight, 0);
      let point = stableFraction(`${ctx.contact.id}:${scenario.id}:${stepId}`) * total;
      const variant = step.variants.find((v) => (point -= v.weight) < 0) ?? step.variants.at(-1);
      if (!variant) return null;
      run.variants[stepId] = variant.name;
      trace.push({ atMs: clockMs, stepId, kind: "split", detail: variant.name });
      return variant.next;
    }
    case "update": {
      const set = step.set ?? {};
      const increment = step.increment ?? {};
      Object.assign(traits, set);
      for (const [trait, by] of Object.entries(increment)) {
        const current = Number(traits[trait] ?? 0);
        traits[trait] = (Number.isFinite(current) ? current : 0) + by;
      }
      effects.push({
        type: "update",
        key: `${run.id}/${stepId}/${run.seq}`,
        stepId,
        set,
        increment,
      });
      trace.push({
        atMs: clockMs,
        stepId,
        kind: "update",
        detail: Object.keys({ ...set, ...increment }).join(","),
      });
      return step.next;
    }
    case "exit": {
      endRun({ run, atMs: clockMs, status: "completed", reason: "exit step" });
      effects.push({ type: "metric", stepId, metric: "completed", atMs: clockMs });
      trace.push({ atMs: clockMs, stepId, kind: "exit", detail: "completed" });
      return null;
    }
  }
}

/** Marks a run ended; its wait, and so its pending timer, is dropped. */
export function endRun(input: {
  run: RunState;
  atMs: number;
  status: "completed" | "exited";
  reason: string;
}): void {
  input.run.status = input.status;
  input.run.wait = null;
  input.run.endedAtMs = input.atMs;
  input.run.endReason = input.reason;
}
