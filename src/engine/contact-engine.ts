import type { Job, MetricCount, SendJob } from "../queue/jobs";
import type { Condition } from "./condition";
import type { ConsentStatus, ContactEvent, ContactSnapshot } from "./contact";
import type { ContactState } from "./contact-state";
import { decideEntry, eventConverts, eventExits, eventTriggers } from "./entry";
import {
  advanceRun,
  contactTimeZone,
  endRun,
  newRun,
  type AdvanceResult,
  type RunInput,
} from "./interpreter";
import { type FrequencyCaps } from "./send-rules";
import type { RunState, StepMetric, TraceEntry } from "./run";
import type { Scenario } from "./scenario";
import { syncContactTriggers, fireDueTriggers } from "./contact-triggers";
import { isValidTimeZone } from "./time-zone";
import { syntheticTrigger } from "./triggers";

/** One call of the Segment API, validated, addressed to this contact. */
/** What an anonymous (or earlier) contact held, folded into the contact it was aliased to. */
export interface MergedContact {
  contactId: string;
  traits: Record<string, unknown>;
  events: ContactEvent[];
  consent: Record<string, ConsentStatus>;
}

export interface IngestCall {
  type: ContactEvent["type"];
  messageId: string;
  name: string;
  traits: Record<string, unknown> | null;
  properties: Record<string, unknown>;
  timestampMs: number | null;
  timeZone: string | null;
  /** For `alias`: the previous contact's data, loaded by the object before the operation. */
  merge?: MergedContact | null;
}

/**
 * How long a person's click waits before it resolves a wait: long enough for the rest of a
 * scanner's burst (all links within seconds) to arrive and unmask it.
 */
export const CLICK_SETTLE_MS = 5_000;

/** Trait values longer than this (as JSON) are not mirrored to the D1 index. */
export const INDEXED_TRAIT_LIMIT_CHARS = 4_096;

/** The published definitions an operation decides with. */
export interface EngineCatalog {
  scenarios: Array<{ scenario: Scenario; version: number }>;
  segments: Record<string, Condition>;
  /** Scenario statuses; a run of a `paused` scenario is held, of a `stopped` one ended. */
  statuses?: Record<string, string>;
}

/** Ids-only log lines; the object passes its logger, the simulator a silent one. */
export interface EngineLogger {
  info(event: string, fields?: Record<string, unknown>): void;
}

export type EntryResult = { entered: boolean; reason: string | null; runId: string | null };

/** What one operation produced, for the shell to carry out after saving the state. */
export interface OperationOutput {
  jobs: Array<{ key: string; job: Job; replace: boolean }>;
  trace: Array<TraceEntry & { runId: string; scenarioId: string; version: number }>;
}

/**
 * The contact's decisions, free of storage and platform: events, timers, engagements and
 * enrolments go in; runs are advanced through the interpreter and the resulting jobs come out.
 * The contact object runs it inside a SQLite transaction; the simulator on memory and a clock.
 */
export class ContactEngine {
  readonly output: OperationOutput = { jobs: [], trace: [] };
  readonly snapshot: ContactSnapshot;
  private readonly metrics = new Map<string, MetricCount>();

  constructor(
    readonly deps: {
      state: ContactState;
      contactId: string;
      nowMs: number;
      catalog: EngineCatalog;
      /** Every scenario version a live run may be on, by `id@version`. */
      versions: Map<string, Scenario>;
      caps: FrequencyCaps;
      logger: EngineLogger;
    },
  ) {
    this.snapshot = deps.state.snapshot(deps.contactId);
    // Before anything else runs: a stopped scenario's runs must not take another step.
    this.reconcileRuns();
  }

  private get state(): ContactState {
    return this.deps.state;
  }

  private get nowMs(): number {
    return this.deps.nowMs;
  }

  /** Applies one Segment call; false when its messageId was already seen. */
  applyCall(call: IngestCall): boolean {
    if (!this.state.markSeen(call.messageId, this.nowMs)) return false;
    const profile = this.ensureProfile();
    const traits = { ...profile.traits };
    for (const [trait, value] of Object.entries(call.traits ?? {})) {
      if (value === null) delete traits[trait];
      else traits[trait] = value;
    }
    const contextTimeZone = call.timeZone ?? profile.contextTimeZone;
    for (const [field, zone] of [
      ["traits.timezone", call.traits?.timezone],
      ["context.timezone", call.timeZone],
    ] as const) {
      // An unknown zone is kept as sent but never used: decisions fall back to the next zone.
      if (typeof zone === "string" && zone !== "" && !isValidTimeZone(zone)) {
        this.log("timezone:invalid", { field, messageId: call.messageId });
      }
    }
    this.state.writeProfile({ ...profile, traits, contextTimeZone, lastSeenMs: this.nowMs });
    this.snapshot.traits = traits;
    this.snapshot.contextTimeZone = contextTimeZone;
    if (call.traits) {
      this.applyConsentTraits(call.traits);
      this.queueIndexUpdate();
    }
    if (call.type === "alias") {
      if (call.merge) this.mergeContact(call.merge);
      return true;
    }
    if (call.type === "identify") return true;

    const event: ContactEvent = {
      id: call.messageId,
      type: call.type,
      name: call.name,
      properties: call.properties,
      atMs: call.timestampMs ?? this.nowMs,
      receivedAtMs: this.nowMs,
    };
    this.state.appendEvent(event);
    this.snapshot.events.push(event);
    this.processEvent(event);
    return true;
  }

  /**
   * Folds an aliased contact into this one: its traits where this contact has none, its events
   * as history (they start nothing now), and its opt-outs, which always win.
   */
  private mergeContact(merged: MergedContact): void {
    const profile = this.ensureProfile();
    const traits = { ...merged.traits, ...this.snapshot.traits };
    this.state.writeProfile({
      ...profile,
      traits,
      firstSeenMs: Math.min(profile.firstSeenMs, ...merged.events.map((e) => e.receivedAtMs)),
      lastSeenMs: this.nowMs,
    });
    this.snapshot.traits = traits;
    for (const event of merged.events) {
      if (!this.state.markSeen(event.id, this.nowMs)) continue;
      this.state.appendEvent(event);
      this.snapshot.events.push(event);
    }
    this.snapshot.events.sort((a, b) => a.atMs - b.atMs);
    for (const [topic, status] of Object.entries(merged.consent)) {
      if (status === "unsubscribed") {
        this.setConsent({ topic, status, source: `alias:${merged.contactId}`, atMs: this.nowMs });
      }
    }
    this.queueIndexUpdate();
    this.log("contact:merge", { from: merged.contactId, events: merged.events.length });
  }

  /** Wakes the runs and triggers whose time has come. */
  fireDue(): void {
    for (const runId of this.state.dueRuns(this.nowMs)) {
      const run = this.state.readRun(runId);
      const scenario = run && this.versionOf(run);
      if (!run || !scenario) continue;
      if (this.statusOf(run) === "paused") {
        run.heldAtMs = this.nowMs;
        this.state.writeRun(run);
        this.log("run:hold", { runId: run.id });
        continue;
      }
      this.advance({ run, scenario, input: { kind: "timer" } });
    }
    fireDueTriggers(this);
  }

  /** Records an engagement and wakes the runs waiting for it, when a person made it. */
  engage(input: {
    messageId: string;
    kind: "delivered" | "opened" | "clicked" | "bounced" | "complained";
    atMs: number;
    machine: boolean;
    reason: string | null;
    url: string | null;
    source: string;
  }): boolean {
    const sent = this.state.handedOff(input.messageId);
    const isNew =
      input.kind === "complained" ||
      this.state.addEngagement({
        messageId: input.messageId,
        kind: input.kind,
        atMs: input.atMs,
        machine: input.machine,
      });
    if (!isNew) {
      // The same link clicked twice in one millisecond is no reader.
      if (input.kind === "clicked") this.unmaskBurst(input.messageId, input.atMs);
      return false;
    }
    this.emit(`${input.messageId}:${input.kind}:${input.atMs}`, {
      kind: "engagement",
      messageId: input.messageId,
      contactId: this.deps.contactId,
      scenarioId: sent?.scenarioId ?? null,
      stepId: sent?.stepId ?? null,
      engagement: input.kind,
      atMs: input.atMs,
      machine: input.machine,
      reason: input.reason,
      url: input.url,
      source: input.source,
    });
    if (input.kind === "clicked" && input.machine) this.unmaskBurst(input.messageId, input.atMs);
    if (input.machine || input.kind === "complained") return true;

    this.snapshot.engagements.push({ ...input, kind: input.kind });
    for (const run of this.state.readRuns({ status: "active" })) {
      const scenario = this.versionOf(run);
      if (!scenario || run.wait?.kind !== "engagement" || this.statusOf(run) === "paused") continue;
      if (!Object.values(run.sent).includes(input.messageId)) continue;
      if (input.kind === "clicked") {
        // The first click of a scanner's burst looks human until the others arrive.
        run.wait.checkAtMs = Math.min(run.wait.checkAtMs ?? Infinity, input.atMs + CLICK_SETTLE_MS);
        this.state.writeRun(run);
        continue;
      }
      this.advance({ run, scenario, input: { kind: "engagement", messageId: input.messageId } });
    }
    return true;
  }

  /**
   * A machine click reveals the clicks just before it as part of the same sweep: they are
   * marked machine too, before any wait trusts them.
   */
  private unmaskBurst(messageId: string, atMs: number): void {
    for (const engagement of this.snapshot.engagements) {
      const inBurst =
        engagement.messageId === messageId &&
        engagement.kind === "clicked" &&
        !engagement.machine &&
        atMs - engagement.atMs <= CLICK_SETTLE_MS &&
        engagement.atMs <= atMs;
      if (!inBurst) continue;
      engagement.machine = true;
      this.state.markMachine({ messageId, kind: "clicked", atMs: engagement.atMs });
      const sent = this.state.handedOff(messageId);
      this.emit(`${messageId}:clicked:${engagement.atMs}:unmasked`, {
        kind: "engagement",
        messageId,
        contactId: this.deps.contactId,
        scenarioId: sent?.scenarioId ?? null,
        stepId: sent?.stepId ?? null,
        engagement: "clicked",
        atMs: engagement.atMs,
        machine: true,
        reason: "click-burst (unmasked)",
        url: null,
        source: "classifier",
      });
      this.log("engagement:unmask", { messageId });
    }
  }

  /** Enters a scenario whose trigger is `api` or this `campaign`, outside of any event. */
  enterExplicitly(input: {
    scenarioId: string;
    triggerType: "api" | "campaign";
    campaignId?: string;
    triggerId: string;
    properties: Record<string, unknown>;
  }): EntryResult {
    this.ensureProfile();
    const entry = this.deps.catalog.scenarios.find((item) => item.scenario.id === input.scenarioId);
    const trigger = entry?.scenario.trigger;
    const matches =
      trigger?.type === input.triggerType &&
      (trigger.type !== "campaign" || trigger.campaign === input.campaignId);
    if (!entry || !matches) {
      return {
        entered: false,
        reason: `not an active scenario with a ${input.triggerType} trigger`,
        runId: null,
      };
    }
    const event = syntheticTrigger({
      id: input.triggerId,
      name: input.triggerType === "api" ? "API Enrolment" : "Campaign Reached",
      properties: input.properties,
      atMs: this.nowMs,
      nowMs: this.nowMs,
    });
    return this.tryEnter({ scenario: entry.scenario, version: entry.version, trigger: event });
  }

  /** Sets consent from the API, an unsubscribe link, a bounce or an SMS keyword. */
  setConsent(input: { topic: string; status: ConsentStatus; source: string; atMs: number }): void {
    this.state.writeConsent(input);
    this.snapshot.consent[input.topic] = input.status;
  }

  /** Ends the operation: re-arms the contact's own triggers and queues its counters. */
  finish(): OperationOutput {
    if (this.state.readProfile()) syncContactTriggers(this);
    if (this.metrics.size > 0) {
      const batchId = `${this.deps.contactId}:metrics:${this.nowMs}:${this.output.jobs.length}`;
      this.emit(batchId, { kind: "metrics", batchId, counts: [...this.metrics.values()] });
    }
    return this.output;
  }

  /**
   * Brings live runs in line with their scenario's status: a stopped scenario ends them at
   * once, a resumed one releases the timers held while it was paused.
   */
  private reconcileRuns(): void {
    for (const run of this.state.readRuns({ status: "active" })) {
      const status = this.statusOf(run);
      if (status === "stopped") {
        endRun({ run, atMs: this.nowMs, status: "exited", reason: "scenario stopped" });
        this.state.writeRun(run);
        this.count(run, run.wait?.stepId ?? "(run)", "exited");
        this.log("run:stop", { runId: run.id });
      } else if (status === "active" && run.heldAtMs) {
        run.heldAtMs = null;
        this.state.writeRun(run);
        this.log("run:release", { runId: run.id });
      }
    }
  }

  private statusOf(run: RunState): string {
    return this.deps.catalog.statuses?.[run.scenarioId] ?? "active";
  }

  /** Exits, goals and waits of the runs first, then new entries. */
  private processEvent(event: ContactEvent): void {
    const segments = this.deps.catalog.segments;
    for (const run of this.state.readRunsForEvent(this.nowMs)) {
      const scenario = this.versionOf(run);
      if (!scenario) continue;
      const args = { scenario, run, event, contact: this.snapshot, segments, nowMs: this.nowMs };
      if (eventConverts(args)) {
        run.convertedAtMs = this.nowMs;
        this.state.writeRun(run);
        this.count(run, scenario.start, "converted");
        this.log("run:convert", { runId: run.id });
        this.traceOf(run, { atMs: this.nowMs, stepId: null, kind: "goal", detail: event.name });
      }
      if (run.status !== "active") continue;
      if (eventExits(args)) {
        endRun({ run, atMs: this.nowMs, status: "exited", reason: `exit event ${event.name}` });
        this.state.writeRun(run);
        this.count(run, scenario.start, "exited");
        this.log("run:exit", { runId: run.id, reason: event.name });
        this.traceOf(run, {
          atMs: this.nowMs,
          stepId: null,
          kind: "exit",
          detail: `exit event ${event.name}`,
        });
        continue;
      }
      if (run.wait?.kind === "event" && this.statusOf(run) !== "paused") {
        this.advance({ run, scenario, input: { kind: "event", event } });
      }
    }

    for (const { scenario, version } of this.deps.catalog.scenarios) {
      const args = { scenario, event, contact: this.snapshot, segments, nowMs: this.nowMs };
      if (eventTriggers(args)) this.tryEnter({ scenario, version, trigger: event });
    }
  }

  /** Enters a run if the entry rules allow it; the run id is derived from its trigger. */
  tryEnter(input: {
    scenario: Scenario;
    version: number;
    trigger: ContactEvent | null;
  }): EntryResult {
    const { scenario, version, trigger } = input;
    const decision = decideEntry({
      scenario,
      contact: this.snapshot,
      history: this.state.entryHistory(scenario.id),
      trigger,
      segments: this.deps.catalog.segments,
      nowMs: this.nowMs,
    });
    if (!decision.enter) {
      this.log("run:skip", { scenarioId: scenario.id, reason: decision.reason });
      return { entered: false, reason: decision.reason, runId: null };
    }

    const run = newRun({
      id: `${scenario.id}@${version}/${trigger?.id ?? this.nowMs}`,
      scenario,
      version,
      trigger,
      enteredAtMs: this.nowMs,
      timeZone: contactTimeZone(scenario, this.snapshot),
    });
    this.log("run:enter", { scenarioId: scenario.id, runId: run.id });
    this.advance({ run, scenario, input: { kind: "start" } });
    return { entered: true, reason: null, runId: run.id };
  }

  private advance(input: { run: RunState; scenario: Scenario; input: RunInput }): void {
    const result = advanceRun({
      scenario: input.scenario,
      run: input.run,
      input: input.input,
      contact: this.snapshot,
      segments: this.deps.catalog.segments,
      nowMs: this.nowMs,
      caps: this.deps.caps,
    });
    this.state.writeRun(result.run);
    for (const entry of result.trace) this.traceOf(result.run, entry);
    this.applyEffects({
      scenario: input.scenario,
      result,
      event: input.input.kind === "event" ? input.input.event : null,
    });
  }

  private applyEffects(input: {
    scenario: Scenario;
    result: AdvanceResult;
    event: ContactEvent | null;
  }): void {
    const { scenario, result } = input;
    const run = result.run;
    for (const effect of result.effects) {
      switch (effect.type) {
        case "metric":
          this.count(run, effect.stepId, effect.metric);
          break;
        case "update": {
          const profile = this.state.readProfile();
          if (!profile) break;
          this.state.writeProfile({ ...profile, traits: result.traits, lastSeenMs: this.nowMs });
          this.snapshot.traits = result.traits;
          this.queueIndexUpdate();
          break;
        }
        case "send":
        case "suppress": {
          const marketing = scenario.consent !== "transactional" && effect.channel !== "internal";
          const job: SendJob = {
            kind: "send",
            messageId: effect.key,
            contactId: this.deps.contactId,
            scenarioId: run.scenarioId,
            scenarioVersion: run.version,
            runId: run.id,
            stepId: effect.stepId,
            channel: effect.channel,
            templateId: effect.template,
            to: effect.type === "send" ? effect.to : null,
            topic: scenario.consent,
            transactional: scenario.consent === "transactional",
            suppressedReason: effect.type === "suppress" ? effect.reason : null,
            eventId: input.event?.id ?? null,
            createdAtMs: this.nowMs,
          };
          this.emit(job.messageId, job);
          if (effect.type === "send") {
            this.state.recordSend({
              messageId: effect.key,
              channel: effect.channel,
              marketing,
              atMs: effect.atMs,
            });
            this.snapshot.sends = [
              ...(this.snapshot.sends ?? []),
              { channel: effect.channel, marketing, atMs: effect.atMs },
            ];
          }
          this.log(effect.type === "send" ? "message:queue" : "message:suppress", {
            runId: run.id,
            stepId: effect.stepId,
          });
          break;
        }
      }
    }
  }

  /**
   * Consent carried by `identify`: `unsubscribed: true|false` for all marketing, and
   * `subscriptions: { <topic>: true|false }` per topic.
   */
  private applyConsentTraits(traits: Record<string, unknown>): void {
    const changes: Array<[string, boolean]> = [];
    if (typeof traits.unsubscribed === "boolean") changes.push(["all", !traits.unsubscribed]);
    const subscriptions = traits.subscriptions;
    if (subscriptions && typeof subscriptions === "object" && !Array.isArray(subscriptions)) {
      for (const [topic, value] of Object.entries(subscriptions)) {
        if (typeof value === "boolean") changes.push([topic, value]);
      }
    }
    for (const [topic, subscribed] of changes) {
      // The write key is public: a client may opt a contact out, never lift a suppression or an
      // opt-out that the contact, a bounce or an operator made (those change through the API).
      if (topic.startsWith("suppressed:") || topic.startsWith("channel:")) continue;
      const source = this.state.consentSource(topic);
      if (subscribed && source !== null && source !== "identify") {
        this.log("consent:keep", { topic, source });
        continue;
      }
      const status = subscribed ? "subscribed" : "unsubscribed";
      this.setConsent({ topic, status, source: "identify", atMs: this.nowMs });
    }
  }

  ensureProfile() {
    const existing = this.state.readProfile();
    if (existing) return existing;
    const profile = {
      contactId: this.deps.contactId,
      traits: {},
      contextTimeZone: null,
      firstSeenMs: this.nowMs,
      lastSeenMs: this.nowMs,
    };
    this.state.writeProfile(profile);
    // Every contact is in the D1 index, so that a stop or a resume can reach it.
    this.queueIndexUpdate();
    return profile;
  }

  private queueIndexUpdate(): void {
    const profile = this.state.readProfile();
    if (!profile) return;
    // The index is for segment queries and fan-out: a very large trait value stays in the object
    // only, so that the mirror job always fits a queue message.
    const traits = Object.fromEntries(
      Object.entries(this.snapshot.traits).filter(
        ([, value]) => JSON.stringify(value ?? null).length <= INDEXED_TRAIT_LIMIT_CHARS,
      ),
    );
    // One index row per contact: a later update in the same operation replaces the job.
    this.emit(
      `${this.deps.contactId}:index`,
      {
        kind: "contact-index",
        contactId: this.deps.contactId,
        traits,
        timeZone: (traits.timezone as string | undefined) ?? this.snapshot.contextTimeZone,
        firstSeenAtMs: profile.firstSeenMs,
        lastSeenAtMs: this.nowMs,
      },
      true,
    );
  }

  versionOf(run: RunState): Scenario | undefined {
    return this.deps.versions.get(`${run.scenarioId}@${run.version}`);
  }

  emit(key: string, job: Job, replace = false): void {
    this.output.jobs.push({ key, job, replace });
  }

  private count(run: RunState, stepId: string, metric: StepMetric): void {
    const key = `${run.scenarioId}@${run.version}/${stepId}/${metric}`;
    const current = this.metrics.get(key);
    if (current) current.count += 1;
    else
      this.metrics.set(key, {
        scenarioId: run.scenarioId,
        version: run.version,
        stepId,
        metric,
        count: 1,
      });
  }

  private traceOf(run: RunState, entry: TraceEntry): void {
    this.output.trace.push({
      ...entry,
      runId: run.id,
      scenarioId: run.scenarioId,
      version: run.version,
    });
  }

  log(event: string, fields: Record<string, unknown>): void {
    this.deps.logger.info(event, { contactId: this.deps.contactId, ...fields });
  }
}
