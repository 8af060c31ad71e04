import type {
  ConsentStatus,
  ContactEvent,
  ContactSnapshot,
  EngagementRecord,
} from "../engine/contact";
import type { ContactState, HandOff, Profile, TriggerState } from "../engine/contact-state";
import type { EntryHistory } from "../engine/entry";
import type { RunState } from "../engine/run";

/**
 * A contact's state in memory, with the same rules as the object's SQLite store: one timer per
 * waiting run, de-duplicated messageIds, engagements recorded once.
 */
export class MemoryContactState implements ContactState {
  private profile: Profile | null = null;
  private readonly seen = new Set<string>();
  private readonly events: ContactEvent[] = [];
  private readonly engagements: EngagementRecord[] = [];
  private readonly consent = new Map<string, ConsentStatus>();
  private readonly consentSources = new Map<string, string>();
  private readonly runs = new Map<string, RunState>();
  private readonly schedule = new Map<string, number>();
  private readonly triggers = new Map<string, TriggerState>();
  private readonly sends: Array<{
    messageId: string;
    channel: string;
    marketing: boolean;
    atMs: number;
  }> = [];
  private readonly meta = new Map<string, string>();

  readProfile(): Profile | null {
    return this.profile ? structuredClone(this.profile) : null;
  }

  writeProfile(profile: Profile): void {
    this.profile = structuredClone(profile);
  }

  markSeen(messageId: string): boolean {
    if (this.seen.has(messageId)) return false;
    this.seen.add(messageId);
    return true;
  }

  appendEvent(event: ContactEvent): void {
    this.events.push(structuredClone(event));
    this.events.sort((a, b) => a.atMs - b.atMs);
  }

  snapshot(contactId: string): ContactSnapshot {
    return {
      id: contactId,
      traits: structuredClone(this.profile?.traits ?? {}),
      contextTimeZone: this.profile?.contextTimeZone ?? null,
      events: structuredClone(this.events),
      engagements: structuredClone(this.engagements),
      consent: Object.fromEntries(this.consent),
      sends: this.sends.map(({ channel, marketing, atMs }) => ({ channel, marketing, atMs })),
    };
  }

  addEngagement(record: EngagementRecord): boolean {
    const exists = this.engagements.some(
      (e) => e.messageId === record.messageId && e.kind === record.kind && e.atMs === record.atMs,
    );
    if (exists) return false;
    this.engagements.push({ ...record });
    return true;
  }

  markMachine(input: { messageId: string; kind: string; atMs: number }): void {
    for (const e of this.engagements) {
      if (e.messageId === input.messageId && e.kind === input.kind && e.atMs === input.atMs) {
        e.machine = true;
      }
    }
  }

  writeConsent(input: { topic: string; status: ConsentStatus; source: string }): void {
    this.consent.set(input.topic, input.status);
    this.consentSources.set(input.topic, input.source);
  }

  consentSource(topic: string): string | null {
    return this.consentSources.get(topic) ?? null;
  }

  readRuns(filter: { status?: "active" } = {}): RunState[] {
    return [...this.runs.values()]
      .filter((run) => filter.status === undefined || run.status === filter.status)
      .sort((a, b) => a.enteredAtMs - b.enteredAtMs)
      .map((run) => structuredClone(run));
  }

  readRunsForEvent(atMs: number): RunState[] {
    return this.readRuns().filter(
      (run) =>
        run.status === "active" ||
        (run.convertedAtMs === null && run.goalDeadlineMs !== null && run.goalDeadlineMs >= atMs),
    );
  }

  readRun(runId: string): RunState | null {
    const run = this.runs.get(runId);
    return run ? structuredClone(run) : null;
  }

  writeRun(run: RunState): void {
    this.runs.set(run.id, structuredClone(run));
    if (run.status === "active" && run.wait && !run.heldAtMs) {
      this.schedule.set(
        run.id,
        Math.min(run.wait.dueAtMs, run.wait.checkAtMs ?? Number.POSITIVE_INFINITY),
      );
    } else this.schedule.delete(run.id);
  }

  entryHistory(scenarioId: string): EntryHistory {
    const runs = [...this.runs.values()].filter((run) => run.scenarioId === scenarioId);
    const entries = runs.map((run) => run.enteredAtMs);
    return {
      live: runs.some((run) => run.status === "active"),
      lastEnteredAtMs: entries.length > 0 ? Math.max(...entries) : null,
    };
  }

  dueRuns(nowMs: number): string[] {
    return [...this.schedule]
      .filter(([, dueAtMs]) => dueAtMs <= nowMs)
      .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
      .map(([runId]) => runId);
  }

  readTriggerState(scenarioId: string): Omit<TriggerState, "scenarioId"> | null {
    const state = this.triggers.get(scenarioId);
    return state ? { kind: state.kind, dueAtMs: state.dueAtMs, state: state.state } : null;
  }

  writeTriggerState(input: TriggerState): void {
    this.triggers.set(input.scenarioId, { ...input });
  }

  deleteTriggerState(scenarioId: string): void {
    this.triggers.delete(scenarioId);
  }

  dueTriggers(nowMs: number): string[] {
    return [...this.triggers.values()]
      .filter((t) => t.dueAtMs !== null && t.dueAtMs <= nowMs)
      .sort(
        (a, b) => (a.dueAtMs ?? 0) - (b.dueAtMs ?? 0) || a.scenarioId.localeCompare(b.scenarioId),
      )
      .map((t) => t.scenarioId);
  }

  triggerStates(): TriggerState[] {
    return [...this.triggers.values()].map((t) => ({ ...t }));
  }

  recordSend(input: {
    messageId: string;
    channel: string;
    marketing: boolean;
    atMs: number;
  }): void {
    if (!this.sends.some((send) => send.messageId === input.messageId))
      this.sends.push({ ...input });
  }

  /** The simulator hands every message over at once, so the send time is the hand-off time. */
  handedOff(messageId: string): HandOff | null {
    const send = this.sends.find((s) => s.messageId === messageId);
    if (!send) return null;
    return { runId: null, scenarioId: null, stepId: null, channel: send.channel, atMs: send.atMs };
  }

  readMeta(key: string): string | null {
    return this.meta.get(key) ?? null;
  }

  writeMeta(key: string, value: string): void {
    this.meta.set(key, value);
  }

  earliestDueMs(): number | null {
    const dues = [
      ...this.schedule.values(),
      ...[...this.triggers.values()].flatMap((t) => (t.dueAtMs === null ? [] : [t.dueAtMs])),
    ];
    return dues.length > 0 ? Math.min(...dues) : null;
  }
}
