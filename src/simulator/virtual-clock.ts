import type { Job, SendJob } from "../queue/jobs";
import {
  ContactEngine,
  type EngineCatalog,
  type EngineLogger,
  type IngestCall,
  type OperationOutput,
} from "../engine/contact-engine";
import type { FrequencyCaps } from "../engine/send-rules";
import type { Scenario } from "../engine/scenario";
import type { MemoryContactState } from "./memory-state";

/** Something that happens to the contact at a virtual time. */
export type TimedInput =
  | { atMs: number; kind: "call"; call: IngestCall }
  | {
      atMs: number;
      kind: "engagement";
      /** The send step whose latest message was engaged with. */
      step: string;
      engagement: "delivered" | "opened" | "clicked" | "bounced";
    };

export interface ClockStep {
  atMs: number;
  cause: "input" | "timer";
  input: TimedInput | null;
  output: OperationOutput;
  /** Set when an engagement named a step that had sent nothing yet. */
  ignored: string | null;
}

const silent: EngineLogger = { info: () => undefined };

/** Guards a scenario that would keep waking itself; months of daily steps stay far below it. */
const MAX_OPERATIONS = 10_000;

/**
 * Runs one contact through the contact engine on a virtual clock: each input at its time, each
 * timer at its due time, in order, until `endMs`. The same engine the contact object runs.
 */
export function runOnVirtualClock(input: {
  state: MemoryContactState;
  contactId: string;
  catalog: EngineCatalog;
  versions?: Map<string, Scenario>;
  caps?: FrequencyCaps;
  inputs: TimedInput[];
  endMs: number;
}): ClockStep[] {
  const versions =
    input.versions ??
    new Map(
      input.catalog.scenarios.map(({ scenario, version }) => [
        `${scenario.id}@${version}`,
        scenario,
      ]),
    );
  const pending = [...input.inputs].sort((a, b) => a.atMs - b.atMs);
  const sentByStep = new Map<string, string>();
  const steps: ClockStep[] = [];

  for (let count = 0; count < MAX_OPERATIONS; count++) {
    const dueMs = input.state.earliestDueMs();
    const next = pending[0];
    const timerFirst = dueMs !== null && (next === undefined || dueMs <= next.atMs);
    const atMs = timerFirst ? (dueMs as number) : next?.atMs;
    if (atMs === undefined || atMs > input.endMs) break;

    const engine = new ContactEngine({
      state: input.state,
      contactId: input.contactId,
      nowMs: atMs,
      catalog: input.catalog,
      versions,
      caps: input.caps ?? {},
      logger: silent,
    });
    let ignored: string | null = null;
    let applied: TimedInput | null = null;
    if (timerFirst) engine.fireDue();
    else {
      applied = pending.shift() as TimedInput;
      if (applied.kind === "call") engine.applyCall(applied.call);
      else {
        const messageId = sentByStep.get(applied.step);
        if (messageId) {
          engine.engage({
            messageId,
            kind: applied.engagement,
            atMs,
            machine: false,
            reason: "simulated",
            url: null,
            source: "simulator",
          });
        } else ignored = `step "${applied.step}" had sent nothing by then`;
      }
    }
    const output = engine.finish();
    for (const { job } of output.jobs) {
      if (isSend(job) && job.stepId && !job.suppressedReason)
        sentByStep.set(job.stepId, job.messageId);
    }
    steps.push({ atMs, cause: timerFirst ? "timer" : "input", input: applied, output, ignored });
  }
  return steps;
}

export function isSend(job: Job): job is SendJob {
  return job.kind === "send";
}
