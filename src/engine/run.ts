import type { Channel } from "./scenario";
import type { ContactEvent } from "./contact";

export type WaitKind = "duration" | "until" | "window" | "cap" | "event" | "engagement";

/** Why a run is parked and when it must be woken at the latest. */
export interface RunWait {
  kind: WaitKind;
  stepId: string;
  startedAtMs: number;
  /** When the run is woken. */
  dueAtMs: number;
  /**
   * The end of a wait_for's window. An engagement wait is woken a grace period later, so that
   * an open made before the deadline but reported after it still counts on its own time.
   */
  deadlineMs?: number;
  /**
   * A click that may belong to a scanner's burst is only trusted once the burst window has
   * passed: the run looks again then, before its deadline.
   */
  checkAtMs?: number | null;
}

export type RunStatus = "active" | "completed" | "exited";

/** A contact's journey through one scenario version. Serialisable as JSON. */
export interface RunState {
  id: string;
  scenarioId: string;
  version: number;
  status: RunStatus;
  enteredAtMs: number;
  trigger: ContactEvent | null;
  /** Step executions so far; part of every effect's idempotency key. */
  seq: number;
  wait: RunWait | null;
  /** Send step id → id of the latest message it produced. */
  sent: Record<string, string>;
  /** Variant chosen at each split step. */
  variants: Record<string, string>;
  endedAtMs: number | null;
  endReason: string | null;
  /** Set while the run's scenario is paused: its timer is held, nothing is skipped. */
  heldAtMs?: number | null;
  goalDeadlineMs: number | null;
  convertedAtMs: number | null;
}

/** Something the shell must carry out. Each carries a key that makes a repeat harmless. */
export type Effect =
  | {
      type: "send";
      key: string;
      stepId: string;
      channel: Channel;
      template: string;
      to: string | null;
      topic: string;
      transactional: boolean;
      atMs: number;
    }
  | {
      type: "suppress";
      key: string;
      stepId: string;
      channel: Channel;
      template: string;
      reason: string;
      atMs: number;
    }
  | {
      type: "update";
      key: string;
      stepId: string;
      set: Record<string, unknown>;
      increment: Record<string, number>;
    }
  | { type: "metric"; stepId: string; metric: StepMetric; atMs: number };

export type StepMetric =
  | "entered"
  | "executed"
  | "sent"
  | "suppressed"
  | "waiting"
  | "then"
  | "timeout"
  | "completed"
  | "exited"
  | "converted";

/** One line of what happened, for the simulator's timeline and the run's log. */
export interface TraceEntry {
  atMs: number;
  stepId: string | null;
  kind:
    | "enter"
    | "send"
    | "suppress"
    | "wait"
    | "resume"
    | "branch"
    | "split"
    | "update"
    | "exit"
    | "goal";
  detail: string;
}
