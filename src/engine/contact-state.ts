import type { ConsentStatus, ContactEvent, ContactSnapshot, EngagementRecord } from "./contact";
import type { EntryHistory } from "./entry";
import type { RunState } from "./run";

export interface Profile {
  contactId: string;
  traits: Record<string, unknown>;
  contextTimeZone: string | null;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** One contact-armed trigger: a date or inactivity timer, or a condition's last value. */
export interface TriggerState {
  scenarioId: string;
  kind: string;
  dueAtMs: number | null;
  state: string | null;
}

/** A message handed to its provider, as far as this contact knows. */
export interface HandOff {
  runId: string | null;
  scenarioId: string | null;
  stepId: string | null;
  channel: string;
  atMs: number;
}

/**
 * Everything the contact engine reads and writes about one contact. The contact object keeps
 * it in SQLite; the simulator and the backtest keep it in memory. Synchronous by design: an
 * operation runs inside one storage transaction.
 */
export interface ContactState {
  readProfile(): Profile | null;
  writeProfile(profile: Profile): void;
  /** Records a messageId; false when it was already seen. */
  markSeen(messageId: string, receivedAtMs: number): boolean;
  appendEvent(event: ContactEvent): void;
  snapshot(contactId: string): ContactSnapshot;
  /** Stores an engagement; false when the same one was already recorded. */
  addEngagement(record: EngagementRecord): boolean;
  /** Marks a stored engagement as made by a machine. */
  markMachine(input: { messageId: string; kind: string; atMs: number }): void;
  writeConsent(input: { topic: string; status: ConsentStatus; source: string; atMs: number }): void;
  /** Who set the topic's current consent (`identify`, `api`, `list-unsubscribe-one-click`…). */
  consentSource(topic: string): string | null;
  readRuns(filter?: { status?: "active" }): RunState[];
  readRun(runId: string): RunState | null;
  /** The runs an event can still affect: live ones, and ended ones whose goal window is open. */
  readRunsForEvent(atMs: number): RunState[];
  /** Saves a run and keeps its single timer in step with its wait. */
  writeRun(run: RunState): void;
  entryHistory(scenarioId: string): EntryHistory;
  dueRuns(nowMs: number): string[];
  readTriggerState(scenarioId: string): Omit<TriggerState, "scenarioId"> | null;
  writeTriggerState(input: TriggerState): void;
  deleteTriggerState(scenarioId: string): void;
  dueTriggers(nowMs: number): string[];
  triggerStates(): TriggerState[];
  /** Records a marketing or transactional send, for frequency caps. */
  recordSend(input: { messageId: string; channel: string; marketing: boolean; atMs: number }): void;
  handedOff(messageId: string): HandOff | null;
  readMeta(key: string): string | null;
  writeMeta(key: string, value: string): void;
  earliestDueMs(): number | null;
}
