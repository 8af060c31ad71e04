import type {
  ConsentStatus,
  ContactEvent,
  ContactSnapshot,
  EngagementRecord,
} from "../src/engine/contact";
import type { RunState } from "../src/engine/run";
import type { ContactState } from "../src/engine/contact-state";
import type { Job } from "../src/queue/jobs";

/** Events kept per contact; older ones are dropped first. */
export const EVENT_HISTORY_LIMIT = 1_000;

/** Events beyond the limit kept before trimming, so that trimming is occasional. */
export const EVENT_TRIM_MARGIN = 100;

/** How long a messageId is remembered for de-duplication. */
export const DEDUPE_WINDOW_MS = 30 * 24 * 3_600_000;

/** Sends remembered for frequency caps; longer than any sensible cap window. */
export const SENT_LOG_WINDOW_MS = 90 * 24 * 3_600_000;

const SCHEMA_VERSION = 1;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS profile (
     id INTEGER PRIMARY KEY CHECK (id = 1), contact_id TEXT NOT NULL, traits TEXT NOT NULL,
     context_tz TEXT, first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, type TEXT NOT NULL,
     name TEXT NOT NULL, properties TEXT NOT NULL, at_ms INTEGER NOT NULL,
     received_at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS seen_messages (id TEXT PRIMARY KEY, received_at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS engagements (
     message_id TEXT NOT NULL, kind TEXT NOT NULL, at_ms INTEGER NOT NULL, machine INTEGER NOT NULL,
     PRIMARY KEY (message_id, kind, at_ms))`,
  `CREATE TABLE IF NOT EXISTS consent (
     topic TEXT PRIMARY KEY, status TEXT NOT NULL, source TEXT NOT NULL, updated_at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS runs (
     id TEXT PRIMARY KEY, scenario_id TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
     state TEXT NOT NULL, entered_at_ms INTEGER NOT NULL, ended_at_ms INTEGER)`,
  `CREATE INDEX IF NOT EXISTS runs_scenario ON runs (scenario_id, entered_at_ms)`,
  `CREATE TABLE IF NOT EXISTS schedule (run_id TEXT PRIMARY KEY, due_at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS pending_jobs (key TEXT PRIMARY KEY, job TEXT NOT NULL, created_at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS trigger_state (
     scenario_id TEXT PRIMARY KEY, kind TEXT NOT NULL, due_at_ms INTEGER, state TEXT)`,
  `CREATE TABLE IF NOT EXISTS sent_log (
     message_id TEXT PRIMARY KEY, channel TEXT NOT NULL, marketing INTEGER NOT NULL,
     at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS handed_off (
     message_id TEXT PRIMARY KEY, run_id TEXT, scenario_id TEXT, step_id TEXT, channel TEXT NOT NULL,
     at_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS dispatched_jobs (key TEXT PRIMARY KEY, job TEXT NOT NULL, dispatched_at_ms INTEGER NOT NULL)`,
];

/** Jobs remembered after dispatch, for the contact's admin view and for tests. */
const DISPATCH_LOG_LIMIT = 500;

type Row = Record<string, SqlStorageValue>;

interface EventRow {
  id: string;
  type: ContactEvent["type"];
  name: string;
  properties: string;
  at_ms: number;
  received_at_ms: number;
}

function toContactEvent(row: EventRow): ContactEvent {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    properties: JSON.parse(row.properties) as Record<string, unknown>,
    atMs: row.at_ms,
    receivedAtMs: row.received_at_ms,
  };
}

/** The contact object's SQLite tables and the queries over them. Synchronous, like its storage. */
export class ContactStore implements ContactState {
  private eventsCache: ContactEvent[] | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /** Creates or upgrades the schema; idempotent. */
  migrate(): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      String(SCHEMA_VERSION),
    );
  }

  private rows<T>(query: string, ...bindings: SqlStorageValue[]): T[] {
    return this.sql.exec<Row>(query, ...bindings).toArray() as unknown as T[];
  }

  readProfile(): {
    contactId: string;
    traits: Record<string, unknown>;
    contextTimeZone: string | null;
    firstSeenMs: number;
    lastSeenMs: number;
  } | null {
    const [row] = this.rows<{
      contact_id: string;
      traits: string;
      context_tz: string | null;
      first_seen_ms: number;
      last_seen_ms: number;
    }>("SELECT * FROM profile WHERE id = 1");
    if (!row) return null;
    return {
      contactId: row.contact_id,
      traits: JSON.parse(row.traits) as Record<string, unknown>,
      contextTimeZone: row.context_tz,
      firstSeenMs: row.first_seen_ms,
      lastSeenMs: row.last_seen_ms,
    };
  }

  writeProfile(profile: {
    contactId: string;
    traits: Record<string, unknown>;
    contextTimeZone: string | null;
    firstSeenMs: number;
    lastSeenMs: number;
  }): void {
    this.sql.exec(
      `INSERT INTO profile (id, contact_id, traits, context_tz, first_seen_ms, last_seen_ms)
       VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET traits = excluded.traits, context_tz = excluded.context_tz,
         first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),
         last_seen_ms = excluded.last_seen_ms`,
      profile.contactId,
      JSON.stringify(profile.traits),
      profile.contextTimeZone,
      profile.firstSeenMs,
      profile.lastSeenMs,
    );
  }

  /** Records a messageId; false when it was already seen (a duplicate). */
  markSeen(messageId: string, receivedAtMs: number): boolean {
    const cursor = this.sql.exec(
      "INSERT INTO seen_messages (id, received_at_ms) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
      messageId,
      receivedAtMs,
    );
    return cursor.rowsWritten > 0;
  }

  appendEvent(event: ContactEvent): void {
    this.sql.exec(
      "INSERT INTO events (id, type, name, properties, at_ms, received_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
      event.id,
      event.type,
      event.name,
      JSON.stringify(event.properties),
      event.atMs,
      event.receivedAtMs,
    );
    if (this.eventsCache) {
      this.eventsCache.push(event);
      this.eventsCache.sort((a, b) => a.atMs - b.atMs);
    }
  }

  /**
   * Keeps the history and the de-duplication memory bounded. Events are trimmed back to the
   * limit once they pass it by a margin, so the cached history survives most operations.
   */
  prune(nowMs: number): void {
    const [count] = this.rows<{ n: number }>("SELECT COUNT(*) AS n FROM events");
    if ((count?.n ?? 0) > EVENT_HISTORY_LIMIT + EVENT_TRIM_MARGIN) {
      this.sql.exec(
        `DELETE FROM events WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
        EVENT_HISTORY_LIMIT,
      );
      this.eventsCache = null;
    }
    this.sql.exec("DELETE FROM seen_messages WHERE received_at_ms < ?", nowMs - DEDUPE_WINDOW_MS);
    this.sql.exec("DELETE FROM sent_log WHERE at_ms < ?", nowMs - SENT_LOG_WINDOW_MS);
    this.sql.exec(
      `DELETE FROM dispatched_jobs WHERE key IN (
         SELECT key FROM dispatched_jobs ORDER BY dispatched_at_ms DESC LIMIT -1 OFFSET ?)`,
      DISPATCH_LOG_LIMIT,
    );
  }

  /**
   * The history, oldest first. Parsed once per object instance and kept in step with every
   * append: an event no longer re-reads and re-parses a thousand stored ones.
   */
  readEvents(): ContactEvent[] {
    this.eventsCache ??= this.loadEvents();
    return [...this.eventsCache];
  }

  /** Forgets what is cached, after a transaction that did not commit. */
  forgetCaches(): void {
    this.eventsCache = null;
  }

  private loadEvents(): ContactEvent[] {
    return this.rows<EventRow>("SELECT * FROM events ORDER BY at_ms, seq").map(toContactEvent);
  }

  readEvent(eventId: string): ContactEvent | null {
    const [row] = this.rows<EventRow>(
      "SELECT * FROM events WHERE id = ? ORDER BY seq DESC LIMIT 1",
      eventId,
    );
    return row ? toContactEvent(row) : null;
  }

  readEngagements(): EngagementRecord[] {
    return this.rows<{
      message_id: string;
      kind: EngagementRecord["kind"];
      at_ms: number;
      machine: number;
    }>("SELECT * FROM engagements ORDER BY at_ms").map((row) => ({
      messageId: row.message_id,
      kind: row.kind,
      atMs: row.at_ms,
      machine: row.machine === 1,
    }));
  }

  /** Stores an engagement; false when the same one was already recorded. */
  addEngagement(record: EngagementRecord): boolean {
    const cursor = this.sql.exec(
      "INSERT INTO engagements (message_id, kind, at_ms, machine) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      record.messageId,
      record.kind,
      record.atMs,
      record.machine ? 1 : 0,
    );
    return cursor.rowsWritten > 0;
  }

  markMachine(input: { messageId: string; kind: string; atMs: number }): void {
    this.sql.exec(
      "UPDATE engagements SET machine = 1 WHERE message_id = ? AND kind = ? AND at_ms = ?",
      input.messageId,
      input.kind,
      input.atMs,
    );
  }

  readConsent(): Record<string, ConsentStatus> {
    const consent: Record<string, ConsentStatus> = {};
    for (const row of this.rows<{ topic: string; status: ConsentStatus }>(
      "SELECT topic, status FROM consent",
    )) {
      consent[row.topic] = row.status;
    }
    return consent;
  }

  consentSource(topic: string): string | null {
    const [row] = this.rows<{ source: string }>(
      "SELECT source FROM consent WHERE topic = ?",
      topic,
    );
    return row?.source ?? null;
  }

  readConsentDetails(): Array<{
    topic: string;
    status: ConsentStatus;
    source: string;
    updatedAtMs: number;
  }> {
    return this.rows<{
      topic: string;
      status: ConsentStatus;
      source: string;
      updated_at_ms: number;
    }>("SELECT * FROM consent ORDER BY topic").map((row) => ({
      topic: row.topic,
      status: row.status,
      source: row.source,
      updatedAtMs: row.updated_at_ms,
    }));
  }

  writeConsent(input: {
    topic: string;
    status: ConsentStatus;
    source: string;
    atMs: number;
  }): void {
    this.sql.exec(
      `INSERT INTO consent (topic, status, source, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (topic) DO UPDATE SET status = excluded.status, source = excluded.source,
         updated_at_ms = excluded.updated_at_ms`,
      input.topic,
      input.status,
      input.source,
      input.atMs,
    );
  }

  snapshot(contactId: string): ContactSnapshot {
    const profile = this.readProfile();
    return {
      id: contactId,
      traits: profile?.traits ?? {},
      contextTimeZone: profile?.contextTimeZone ?? null,
      events: this.readEvents(),
      engagements: this.readEngagements(),
      consent: this.readConsent(),
      sends: this.rows<{ channel: string; marketing: number; at_ms: number }>(
        "SELECT channel, marketing, at_ms FROM sent_log ORDER BY at_ms",
      ).map((row) => ({ channel: row.channel, marketing: row.marketing === 1, atMs: row.at_ms })),
    };
  }

  recordSend(input: {
    messageId: string;
    channel: string;
    marketing: boolean;
    atMs: number;
  }): void {
    this.sql.exec(
      `INSERT INTO sent_log (message_id, channel, marketing, at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (message_id) DO NOTHING`,
      input.messageId,
      input.channel,
      input.marketing ? 1 : 0,
      input.atMs,
    );
  }

  readRuns(filter: { status?: "active" } = {}): RunState[] {
    const query =
      filter.status === "active"
        ? "SELECT state FROM runs WHERE status = 'active' ORDER BY entered_at_ms"
        : "SELECT state FROM runs ORDER BY entered_at_ms";
    return this.rows<{ state: string }>(query).map((row) => JSON.parse(row.state) as RunState);
  }

  readRunsForEvent(atMs: number): RunState[] {
    return this.rows<{ state: string }>(
      `SELECT state FROM runs
       WHERE status = 'active'
          OR (json_extract(state, '$.convertedAtMs') IS NULL
              AND json_extract(state, '$.goalDeadlineMs') >= ?)
       ORDER BY entered_at_ms`,
      atMs,
    ).map((row) => JSON.parse(row.state) as RunState);
  }

  readRun(runId: string): RunState | null {
    const [row] = this.rows<{ state: string }>("SELECT state FROM runs WHERE id = ?", runId);
    return row ? (JSON.parse(row.state) as RunState) : null;
  }

  /** Live flag and latest entry of one scenario, for re-entry rules. */
  entryHistory(scenarioId: string): { live: boolean; lastEnteredAtMs: number | null } {
    const [row] = this.rows<{ live: number; last: number | null }>(
      `SELECT COALESCE(SUM(status = 'active'), 0) AS live, MAX(entered_at_ms) AS last
       FROM runs WHERE scenario_id = ?`,
      scenarioId,
    );
    return { live: (row?.live ?? 0) > 0, lastEnteredAtMs: row?.last ?? null };
  }

  /** Saves a run and keeps its single timer in step with its wait. */
  writeRun(run: RunState): void {
    this.sql.exec(
      `INSERT INTO runs (id, scenario_id, version, status, state, entered_at_ms, ended_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, state = excluded.state,
         ended_at_ms = excluded.ended_at_ms`,
      run.id,
      run.scenarioId,
      run.version,
      run.status,
      JSON.stringify(run),
      run.enteredAtMs,
      run.endedAtMs,
    );
    if (run.status === "active" && run.wait && !run.heldAtMs) {
      this.sql.exec(
        `INSERT INTO schedule (run_id, due_at_ms) VALUES (?, ?)
         ON CONFLICT (run_id) DO UPDATE SET due_at_ms = excluded.due_at_ms`,
        run.id,
        Math.min(run.wait.dueAtMs, run.wait.checkAtMs ?? Number.POSITIVE_INFINITY),
      );
    } else {
      this.sql.exec("DELETE FROM schedule WHERE run_id = ?", run.id);
    }
  }

  dueRuns(nowMs: number): string[] {
    return this.rows<{ run_id: string }>(
      "SELECT run_id FROM schedule WHERE due_at_ms <= ? ORDER BY due_at_ms, run_id",
      nowMs,
    ).map((row) => row.run_id);
  }

  /** The earliest wake-up of any run or trigger: the one place the alarm time comes from. */
  earliestDueMs(): number | null {
    const [row] = this.rows<{ due: number | null }>(
      `SELECT MIN(due) AS due FROM (
         SELECT MIN(due_at_ms) AS due FROM schedule
         UNION ALL SELECT MIN(due_at_ms) AS due FROM trigger_state)`,
    );
    return row?.due ?? null;
  }

  readTriggerState(
    scenarioId: string,
  ): { kind: string; dueAtMs: number | null; state: string | null } | null {
    const [row] = this.rows<{ kind: string; due_at_ms: number | null; state: string | null }>(
      "SELECT kind, due_at_ms, state FROM trigger_state WHERE scenario_id = ?",
      scenarioId,
    );
    return row ? { kind: row.kind, dueAtMs: row.due_at_ms, state: row.state } : null;
  }

  writeTriggerState(input: {
    scenarioId: string;
    kind: string;
    dueAtMs: number | null;
    state: string | null;
  }): void {
    this.sql.exec(
      `INSERT INTO trigger_state (scenario_id, kind, due_at_ms, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (scenario_id) DO UPDATE SET kind = excluded.kind, due_at_ms = excluded.due_at_ms,
         state = excluded.state`,
      input.scenarioId,
      input.kind,
      input.dueAtMs,
      input.state,
    );
  }

  deleteTriggerState(scenarioId: string): void {
    this.sql.exec("DELETE FROM trigger_state WHERE scenario_id = ?", scenarioId);
  }

  dueTriggers(nowMs: number): string[] {
    return this.rows<{ scenario_id: string }>(
      "SELECT scenario_id FROM trigger_state WHERE due_at_ms <= ? ORDER BY due_at_ms, scenario_id",
      nowMs,
    ).map((row) => row.scenario_id);
  }

  triggerStates(): Array<{
    scenarioId: string;
    kind: string;
    dueAtMs: number | null;
    state: string | null;
  }> {
    return this.rows<{
      scenario_id: string;
      kind: string;
      due_at_ms: number | null;
      state: string | null;
    }>("SELECT * FROM trigger_state ORDER BY scenario_id").map((row) => ({
      scenarioId: row.scenario_id,
      kind: row.kind,
      dueAtMs: row.due_at_ms,
      state: row.state,
    }));
  }

  schedule(): Array<{ runId: string; dueAtMs: number }> {
    return this.rows<{ run_id: string; due_at_ms: number }>(
      "SELECT * FROM schedule ORDER BY due_at_ms",
    ).map((row) => ({ runId: row.run_id, dueAtMs: row.due_at_ms }));
  }

  addPendingJob(key: string, job: Job, nowMs: number): void {
    this.sql.exec(
      "INSERT INTO pending_jobs (key, job, created_at_ms) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
      key,
      JSON.stringify(job),
      nowMs,
    );
  }

  replacePendingJob(key: string, job: Job, nowMs: number): void {
    this.sql.exec(
      `INSERT INTO pending_jobs (key, job, created_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET job = excluded.job`,
      key,
      JSON.stringify(job),
      nowMs,
    );
  }

  pendingJobs(): Array<{ key: string; job: Job }> {
    return this.rows<{ key: string; job: string }>(
      "SELECT key, job FROM pending_jobs ORDER BY created_at_ms, rowid",
    ).map((row) => ({ key: row.key, job: JSON.parse(row.job) as Job }));
  }

  /** Moves jobs the queue accepted from pending to the dispatch log. */
  markDispatched(keys: string[], nowMs: number): void {
    for (const key of keys) {
      this.sql.exec(
        `INSERT INTO dispatched_jobs (key, job, dispatched_at_ms)
         SELECT key, job, ? FROM pending_jobs WHERE key = ? ON CONFLICT (key) DO NOTHING`,
        nowMs,
        key,
      );
      this.sql.exec("DELETE FROM pending_jobs WHERE key = ?", key);
    }
  }

  dispatchedJobs(): Job[] {
    return this.rows<{ job: string }>(
      "SELECT job FROM dispatched_jobs ORDER BY dispatched_at_ms, rowid",
    ).map((row) => JSON.parse(row.job) as Job);
  }

  /** Remembers when a message was handed to its provider (the first time only). */
  markHandedOff(input: {
    messageId: string;
    runId: string | null;
    scenarioId: string | null;
    stepId: string | null;
    channel: string;
    atMs: number;
  }): void {
    this.sql.exec(
      `INSERT INTO handed_off (message_id, run_id, scenario_id, step_id, channel, at_ms)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
      input.messageId,
      input.runId,
      input.scenarioId,
      input.stepId,
      input.channel,
      input.atMs,
    );
  }

  handedOff(messageId: string): {
    runId: string | null;
    scenarioId: string | null;
    stepId: string | null;
    channel: string;
    atMs: number;
  } | null {
    const [row] = this.rows<{
      run_id: string | null;
      scenario_id: string | null;
      step_id: string | null;
      channel: string;
      at_ms: number;
    }>("SELECT * FROM handed_off WHERE message_id = ?", messageId);
    if (!row) return null;
    return {
      runId: row.run_id,
      scenarioId: row.scenario_id,
      stepId: row.step_id,
      channel: row.channel,
      atMs: row.at_ms,
    };
  }

  readMeta(key: string): string | null {
    const [row] = this.rows<{ value: string }>("SELECT value FROM meta WHERE key = ?", key);
    return row?.value ?? null;
  }

  writeMeta(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  /** Erases everything the object holds; the schema is set up again at once. */
  eraseAll(): void {
    this.eventsCache = null;
    for (const table of [
      "profile",
      "events",
      "seen_messages",
      "engagements",
      "consent",
      "runs",
      "schedule",
      "pending_jobs",
      "dispatched_jobs",
      "handed_off",
      "trigger_state",
      "sent_log",
      "meta",
    ]) {
      this.sql.exec(`DELETE FROM ${table}`);
    }
    this.migrate();
  }
}
