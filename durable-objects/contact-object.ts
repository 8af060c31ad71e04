import { DurableObject } from "cloudflare:workers";
import { getCatalog, getScenarioVersion, type Catalog } from "../src/catalog/catalog";
import type { ConsentStatus, ContactEvent, ContactSnapshot } from "../src/engine/contact";
import { decideEntry, eventConverts, eventExits, eventTriggers } from "../src/engine/entry";
import {
  advanceRun,
  consentBlock,
  contactTimeZone,
  endRun,
  newRun,
  type AdvanceResult,
  type RunInput,
} from "../src/engine/interpreter";
import type { RunState } from "../src/engine/run";
import type { Scenario } from "../src/engine/scenario";
import type { Env } from "../src/env";
import type { Job, MetricCount, SendJob } from "../src/queue/jobs";
import { loggerFor, type Logger } from "../src/shared/logger";
import {
  inactivityDueMs,
  lastActivityMs,
  nextAnniversary,
  syntheticTrigger,
  triggerConditionHolds,
} from "../src/engine/triggers";
import { classifyEngagement } from "../src/tracking/classify";
import { ContactStore } from "./contact-store";

/** One Segment call, validated by the route, addressed to this contact. */
export interface IngestCall {
  type: ContactEvent["type"];
  messageId: string;
  name: string;
  traits: Record<string, unknown> | null;
  properties: Record<string, unknown>;
  timestampMs: number | null;
  timeZone: string | null;
}

/** Soft bounces in a row after which an address is suppressed like a hard bounce. */
export const SOFT_BOUNCES_BEFORE_SUPPRESSION = 3;

/** Delay before retrying jobs the queue refused. */
const DISPATCH_RETRY_MS = 10_000;

/** The queue accepts at most 100 messages per batch. */
const QUEUE_BATCH_LIMIT = 100;

export type SendAuthorization =
  | { ok: true; contact: { id: string; traits: Record<string, unknown> } }
  | { ok: false; reason: string };

/** What an operation decided, carried out once its state is saved. */
interface Operation {
  contactId: string;
  nowMs: number;
  snapshot: ContactSnapshot;
  metrics: Map<string, MetricCount>;
  jobs: number;
}

/**
 * A contact: its profile, consent, bounded event history, live runs and their schedule. Owns
 * its SQLite schema and its single alarm, always set to the earliest scheduled wake-up.
 */
export class ContactObject extends DurableObject<Env> {
  private readonly store: ContactStore;
  private readonly logger: Logger;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ContactStore(ctx.storage.sql);
    this.logger = loggerFor(env);
    ctx.blockConcurrencyWhile(async () => this.store.migrate());
  }

  /** Takes a batch of calls for this contact: de-duplicates, stores, and runs scenarios. */
  async ingest(input: {
    contactId: string;
    calls: IngestCall[];
  }): Promise<{ accepted: number; duplicates: number }> {
    const nowMs = Date.now();
    const catalog = await getCatalog(this.env.DB, nowMs);
    const versions = await this.loadRunVersions(catalog);

    let accepted = 0;
    let duplicates = 0;
    this.ctx.storage.transactionSync(() => {
      const op = this.beginOperation(input.contactId, nowMs);
      for (const call of input.calls) {
        if (!this.store.markSeen(call.messageId, nowMs)) {
          duplicates += 1;
          continue;
        }
        accepted += 1;
        this.applyCall({ op, call, catalog, versions });
      }
      this.store.prune(nowMs);
      this.finishOperation(op, catalog);
    });

    await this.dispatchAndArm(nowMs);
    return { accepted, duplicates };
  }

  /** Wakes the runs whose time has come; a repeated alarm finds nothing due and does nothing. */
  override async alarm(): Promise<void> {
    const nowMs = Date.now();
    const profile = this.store.readProfile();
    if (profile) {
      const catalog = await getCatalog(this.env.DB, nowMs);
      const versions = await this.loadRunVersions(catalog);
      this.ctx.storage.transactionSync(() => {
        const op = this.beginOperation(profile.contactId, nowMs);
        for (const runId of this.store.dueRuns(nowMs)) {
          const run = this.store.readRun(runId);
          const scenario = run && versions.get(`${run.scenarioId}@${run.version}`);
          if (!run || !scenario) continue;
          this.advance({ op, run, scenario, input: { kind: "timer" }, catalog });
        }
        this.fireDueTriggers(op, catalog);
        this.finishOperation(op, catalog);
      });
    }
    await this.dispatchAndArm(nowMs);
  }

  /**
   * Called by the send consumer right before a provider: is this message still wanted? Consent
   * is checked now, not only when the message was scheduled.
   */
  async authorizeSend(input: {
    messageId: string;
    runId: string | null;
    scenarioId: string | null;
    stepId: string | null;
    channel: string;
    topic: string;
  }): Promise<SendAuthorization> {
    const profile = this.store.readProfile();
    if (!profile) return { ok: false, reason: "contact erased" };
    const run = input.runId ? this.store.readRun(input.runId) : null;
    if (run?.status === "exited") return { ok: false, reason: `run exited: ${run.endReason}` };
    const consent = this.store.readConsent();
    const contact = { ...this.store.snapshot(profile.contactId), consent };
    const blocked = consentBlock({ contact, topic: input.topic, channel: input.channel });
    if (blocked) return { ok: false, reason: blocked };
    this.store.markHandedOff({ ...input, atMs: Date.now() });
    return { ok: true, contact: { id: profile.contactId, traits: profile.traits } };
  }

  /**
   * Records an open or click from the tracking routes. Machine engagement is stored but never
   * resolves a wait or a branch.
   */
  async recordEngagement(input: {
    messageId: string;
    kind: "opened" | "clicked";
    atMs: number;
    method: string;
    userAgent: string | null;
    ip: string | null;
    url: string | null;
    machineHint: boolean;
    source: string;
  }): Promise<{ machine: boolean; reason: string }> {
    const sent = this.store.handedOff(input.messageId);
    const recentClicksAtMs = this.store
      .readEngagements()
      .filter((e) => e.messageId === input.messageId && e.kind === "clicked")
      .map((e) => e.atMs);
    const verdict = classifyEngagement({
      kind: input.kind,
      method: input.method,
      userAgent: input.userAgent,
      ip: input.ip,
      atMs: input.atMs,
      sentAtMs: sent?.atMs ?? null,
      recentClicksAtMs,
      machineHint: input.machineHint,
    });
    await this.engage({ ...input, machine: verdict.machine, reason: verdict.reason });
    return verdict;
  }

  /** Records a provider's delivery, bounce or complaint, and suppresses the address if due. */
  async recordDelivery(input: {
    messageId: string;
    kind: "delivered" | "bounced" | "complained";
    bounce: "hard" | "soft" | null;
    atMs: number;
    source: string;
  }): Promise<{ suppressed: boolean }> {
    const channel = this.store.handedOff(input.messageId)?.channel ?? "email";
    const counterKey = `soft_bounces:${channel}`;
    let suppress = false;
    if (input.kind === "delivered") this.store.writeMeta(counterKey, "0");
    if (input.kind === "complained" || input.bounce === "hard") suppress = true;
    if (input.kind === "bounced" && input.bounce !== "hard") {
      const inARow = Number(this.store.readMeta(counterKey) ?? 0) + 1;
      this.store.writeMeta(counterKey, String(inARow));
      suppress = inARow >= SOFT_BOUNCES_BEFORE_SUPPRESSION;
    }
    if (suppress) {
      this.store.writeConsent({
        topic: `suppressed:${channel}`,
        status: "unsubscribed",
        source: `${input.source}:${input.kind === "complained" ? "complaint" : `${input.bounce ?? "soft"}-bounce`}`,
        atMs: input.atMs,
      });
    }
    const engagement = input.kind === "complained" ? "complained" : input.kind;
    await this.engage({ ...input, kind: engagement, machine: false, reason: null, url: null });
    return { suppressed: suppress };
  }

  /**
   * Stores an engagement, mirrors it to D1, and wakes the runs waiting for it when a person
   * made it. A repeat of the same engagement changes nothing.
   */
  private async engage(input: {
    messageId: string;
    kind: "delivered" | "opened" | "clicked" | "bounced" | "complained";
    atMs: number;
    machine: boolean;
    reason: string | null;
    url: string | null;
    source: string;
  }): Promise<void> {
    const nowMs = Date.now();
    const profile = this.store.readProfile();
    if (!profile) return;
    const catalog = await getCatalog(this.env.DB, nowMs);
    const versions = await this.loadRunVersions(catalog);

    this.ctx.storage.transactionSync(() => {
      const sent = this.store.handedOff(input.messageId);
      const isNew =
        input.kind === "complained" ||
        this.store.addEngagement({
          messageId: input.messageId,
          kind: input.kind,
          atMs: input.atMs,
          machine: input.machine,
        });
      if (!isNew) return;
      this.store.addPendingJob(
        `${input.messageId}:${input.kind}:${input.atMs}`,
        {
          kind: "engagement",
          messageId: input.messageId,
          contactId: profile.contactId,
          scenarioId: sent?.scenarioId ?? null,
          stepId: sent?.stepId ?? null,
          engagement: input.kind,
          atMs: input.atMs,
          machine: input.machine,
          reason: input.reason,
          url: input.url,
          source: input.source,
        },
        nowMs,
      );
      if (input.machine || input.kind === "complained") return;

      const op = this.beginOperation(profile.contactId, nowMs);
      for (const run of this.store.readRuns({ status: "active" })) {
        const scenario = versions.get(`${run.scenarioId}@${run.version}`);
        if (!scenario || run.wait?.kind !== "engagement") continue;
        if (!Object.values(run.sent).includes(input.messageId)) continue;
        this.advance({
          op,
          run,
          scenario,
          input: { kind: "engagement", messageId: input.messageId },
          catalog,
        });
      }
      this.finishOperation(op, catalog);
    });
    await this.dispatchAndArm(nowMs);
  }

  /** Enters the contact into a scenario with an `api` trigger (`POST /api/scenarios/:id/enrol`). */
  async enrol(input: {
    contactId: string;
    scenarioId: string;
    properties: Record<string, unknown>;
    requestId: string;
  }): Promise<{ entered: boolean; reason: string | null; runId: string | null }> {
    const nowMs = Date.now();
    const catalog = await getCatalog(this.env.DB, nowMs);
    const entry = catalog.scenarios.find((item) => item.scenario.id === input.scenarioId);
    if (!entry || entry.scenario.trigger.type !== "api") {
      return { entered: false, reason: "not an active scenario with an api trigger", runId: null };
    }
    let result: { entered: boolean; reason: string | null; runId: string | null } = {
      entered: false,
      reason: null,
      runId: null,
    };
    this.ctx.storage.transactionSync(() => {
      this.ensureProfile(input.contactId, nowMs);
      const op = this.beginOperation(input.contactId, nowMs);
      const trigger = syntheticTrigger({
        id: `api-${input.requestId}`,
        name: "API Enrolment",
        properties: input.properties,
        atMs: nowMs,
        nowMs,
      });
      result = this.tryEnter({
        op,
        scenario: entry.scenario,
        version: entry.version,
        trigger,
        catalog,
      });
      this.finishOperation(op, catalog);
    });
    await this.dispatchAndArm(nowMs);
    return result;
  }

  /** Re-evaluates the contact's date, inactivity, condition and segment triggers. */
  async sync(): Promise<void> {
    const nowMs = Date.now();
    const profile = this.store.readProfile();
    if (!profile) return;
    const catalog = await getCatalog(this.env.DB, nowMs);
    await this.loadRunVersions(catalog);
    this.ctx.storage.transactionSync(() => {
      this.finishOperation(this.beginOperation(profile.contactId, nowMs), catalog);
    });
    await this.dispatchAndArm(nowMs);
  }

  /** Sets consent for a topic (or `channel:<name>`, `all`), with its source. */
  async setConsent(input: { topic: string; status: ConsentStatus; source: string }): Promise<void> {
    this.store.writeConsent({ ...input, atMs: Date.now() });
  }

  /** Everything held about the contact, for the admin API and exports. */
  async view(): Promise<{
    profile: ReturnType<ContactStore["readProfile"]>;
    consent: ReturnType<ContactStore["readConsentDetails"]>;
    runs: RunState[];
    schedule: Array<{ runId: string; dueAtMs: number }>;
    events: ContactEvent[];
    triggers: ReturnType<ContactStore["triggerStates"]>;
    alarmAtMs: number | null;
  }> {
    return {
      profile: this.store.readProfile(),
      consent: this.store.readConsentDetails(),
      runs: this.store.readRuns(),
      schedule: this.store.schedule(),
      events: this.store.readEvents(),
      triggers: this.store.triggerStates(),
      alarmAtMs: await this.ctx.storage.getAlarm(),
    };
  }

  /** Jobs this object handed to the queue, newest last. */
  async dispatchedJobs(): Promise<Job[]> {
    return this.store.dispatchedJobs();
  }

  /** Erases the contact's data and its alarm. */
  async erase(): Promise<void> {
    this.store.eraseAll();
    await this.ctx.storage.deleteAlarm();
  }

  private async loadRunVersions(catalog: Catalog): Promise<Map<string, Scenario>> {
    const versions = new Map<string, Scenario>();
    for (const { scenario, version } of catalog.scenarios) {
      versions.set(`${scenario.id}@${version}`, scenario);
    }
    const needed = new Set(
      this.store.readRuns({ status: "active" }).map((run) => `${run.scenarioId}@${run.version}`),
    );
    for (const key of needed) {
      if (versions.has(key)) continue;
      const [scenarioId, version] = key.split("@") as [string, string];
      const scenario = await getScenarioVersion(this.env.DB, {
        scenarioId,
        version: Number(version),
      });
      if (scenario) versions.set(key, scenario);
    }
    return versions;
  }

  private beginOperation(contactId: string, nowMs: number): Operation {
    return {
      contactId,
      nowMs,
      snapshot: this.store.snapshot(contactId),
      metrics: new Map(),
      jobs: 0,
    };
  }

  private applyCall(input: {
    op: Operation;
    call: IngestCall;
    catalog: Catalog;
    versions: Map<string, Scenario>;
  }): void {
    const { op, call, catalog, versions } = input;
    const profile = this.store.readProfile();
    const traits = { ...(profile?.traits ?? {}) };
    for (const [trait, value] of Object.entries(call.traits ?? {})) {
      if (value === null) delete traits[trait];
      else traits[trait] = value;
    }
    const contextTimeZone = call.timeZone ?? profile?.contextTimeZone ?? null;
    this.store.writeProfile({
      contactId: op.contactId,
      traits,
      contextTimeZone,
      firstSeenMs: profile?.firstSeenMs ?? op.nowMs,
      lastSeenMs: op.nowMs,
    });
    op.snapshot.traits = traits;
    op.snapshot.contextTimeZone = contextTimeZone;
    if (call.traits) {
      this.applyConsentTraits({ op, traits: call.traits });
      this.queueIndexUpdate(op, profile?.firstSeenMs ?? op.nowMs);
    }

    if (call.type === "identify" || call.type === "alias") return;
    const event: ContactEvent = {
      id: call.messageId,
      type: call.type,
      name: call.name,
      properties: call.properties,
      atMs: call.timestampMs ?? op.nowMs,
      receivedAtMs: op.nowMs,
    };
    this.store.appendEvent(event);
    op.snapshot.events.push(event);
    this.processEvent({ op, event, catalog, versions });
  }

  /**
   * Consent carried by `identify`: `unsubscribed: true|false` for all marketing, and
   * `subscriptions: { <topic>: true|false }` per topic.
   */
  private applyConsentTraits(input: { op: Operation; traits: Record<string, unknown> }): void {
    const { op, traits } = input;
    const changes: Array<[string, boolean]> = [];
    if (typeof traits.unsubscribed === "boolean") changes.push(["all", !traits.unsubscribed]);
    const subscriptions = traits.subscriptions;
    if (subscriptions && typeof subscriptions === "object" && !Array.isArray(subscriptions)) {
      for (const [topic, value] of Object.entries(subscriptions)) {
        if (typeof value === "boolean") changes.push([topic, value]);
      }
    }
    for (const [topic, subscribed] of changes) {
      const status = subscribed ? "subscribed" : "unsubscribed";
      this.store.writeConsent({ topic, status, source: "identify", atMs: op.nowMs });
      op.snapshot.consent[topic] = status;
    }
  }

  /** Exits, goals and waits of the runs first, then new entries. */
  private processEvent(input: {
    op: Operation;
    event: ContactEvent;
    catalog: Catalog;
    versions: Map<string, Scenario>;
  }): void {
    const { op, event, catalog, versions } = input;
    const segments = catalog.segments;

    for (const run of this.store.readRuns()) {
      const scenario = versions.get(`${run.scenarioId}@${run.version}`);
      if (!scenario) continue;
      const args = { scenario, run, event, contact: op.snapshot, segments, nowMs: op.nowMs };
      if (eventConverts(args)) {
        run.convertedAtMs = op.nowMs;
        this.store.writeRun(run);
        this.count(op, run, scenario.start, "converted");
        this.logger.info("run:convert", { contactId: op.contactId, runId: run.id });
      }
      if (run.status !== "active") continue;
      if (eventExits(args)) {
        endRun({ run, atMs: op.nowMs, status: "exited", reason: `exit event ${event.name}` });
        this.store.writeRun(run);
        this.count(op, run, scenario.start, "exited");
        this.logger.info("run:exit", {
          contactId: op.contactId,
          runId: run.id,
          reason: event.name,
        });
        continue;
      }
      if (run.wait?.kind === "event") {
        this.advance({ op, run, scenario, input: { kind: "event", event }, catalog });
      }
    }

    for (const { scenario, version } of catalog.scenarios) {
      const trigger = { scenario, event, contact: op.snapshot, segments, nowMs: op.nowMs };
      if (!eventTriggers(trigger)) continue;
      this.tryEnter({ op, scenario, version, trigger: event, catalog });
    }
  }

  private tryEnter(input: {
    op: Operation;
    scenario: Scenario;
    version: number;
    trigger: ContactEvent | null;
    catalog: Catalog;
  }): { entered: boolean; reason: string | null; runId: string | null } {
    const { op, scenario, version, trigger, catalog } = input;
    const decision = decideEntry({
      scenario,
      contact: op.snapshot,
      history: this.store.entryHistory(scenario.id),
      trigger,
      segments: catalog.segments,
      nowMs: op.nowMs,
    });
    if (!decision.enter) {
      this.logger.info("run:skip", {
        contactId: op.contactId,
        scenarioId: scenario.id,
        reason: decision.reason,
      });
      return { entered: false, reason: decision.reason, runId: null };
    }

    const run = newRun({
      id: `${scenario.id}@${version}/${trigger?.id ?? op.nowMs}`,
      scenario,
      version,
      trigger,
      enteredAtMs: op.nowMs,
      timeZone: contactTimeZone(scenario, op.snapshot),
    });
    this.logger.info("run:enter", {
      contactId: op.contactId,
      scenarioId: scenario.id,
      runId: run.id,
    });
    this.advance({ op, run, scenario, input: { kind: "start" }, catalog });
    return { entered: true, reason: null, runId: run.id };
  }

  private ensureProfile(contactId: string, nowMs: number): void {
    if (this.store.readProfile()) return;
    this.store.writeProfile({
      contactId,
      traits: {},
      contextTimeZone: null,
      firstSeenMs: nowMs,
      lastSeenMs: nowMs,
    });
  }

  /**
   * Keeps one timer per date and inactivity trigger, and enters runs when a condition or
   * segment trigger crosses. Each contact schedules its own dates: nothing scans all contacts.
   */
  private syncTriggers(op: Operation, catalog: Catalog): void {
    const profile = this.store.readProfile();
    if (!profile) return;
    const active = new Set<string>();

    for (const { scenario, version } of catalog.scenarios) {
      const trigger = scenario.trigger;
      const timeZone = contactTimeZone(scenario, op.snapshot);
      const current = this.store.readTriggerState(scenario.id);
      active.add(scenario.id);
      const args = { scenario, contact: op.snapshot, segments: catalog.segments, nowMs: op.nowMs };

      switch (trigger.type) {
        case "date": {
          // A timer already due is the alarm's to fire; recomputing now would skip it.
          if (
            current?.dueAtMs !== undefined &&
            current.dueAtMs !== null &&
            current.dueAtMs <= op.nowMs
          )
            break;
          const next = nextAnniversary({
            value: op.snapshot.traits[trigger.trait],
            offset: trigger.offset,
            at: trigger.at,
            timeZone,
            afterMs: op.nowMs,
          });
          if (!next) this.store.deleteTriggerState(scenario.id);
          else
            this.store.writeTriggerState({
              scenarioId: scenario.id,
              kind: "date",
              dueAtMs: next.dueAtMs,
              state: next.key,
            });
          break;
        }
        case "inactivity": {
          const sinceMs = lastActivityMs(args) ?? profile.firstSeenMs;
          const firedFor = current?.state ? Number(current.state) : null;
          const dueAtMs =
            firedFor === sinceMs ? null : inactivityDueMs({ scenario, sinceMs, timeZone });
          this.store.writeTriggerState({
            scenarioId: scenario.id,
            kind: "inactivity",
            dueAtMs,
            state: current?.state ?? null,
          });
          break;
        }
        case "condition":
        case "segment": {
          const holds = triggerConditionHolds(args) === true;
          const was = current?.state === "true";
          this.store.writeTriggerState({
            scenarioId: scenario.id,
            kind: trigger.type,
            dueAtMs: null,
            state: String(holds),
          });
          const onExit = trigger.type === "segment" && trigger.on === "exit";
          const crossed = onExit ? was && !holds : !was && holds;
          if (!crossed) break;
          const name =
            trigger.type === "condition"
              ? "Condition Met"
              : onExit
                ? "Segment Exited"
                : "Segment Entered";
          const triggerEvent = syntheticTrigger({
            id: `${trigger.type}-${op.nowMs}`,
            name,
            properties: trigger.type === "segment" ? { segment: trigger.segment } : {},
            atMs: op.nowMs,
            nowMs: op.nowMs,
          });
          this.tryEnter({ op, scenario, version, trigger: triggerEvent, catalog });
          break;
        }
        case "event":
        case "campaign":
        case "api":
          active.delete(scenario.id);
          break;
      }
    }

    for (const state of this.store.triggerStates()) {
      if (!active.has(state.scenarioId)) this.store.deleteTriggerState(state.scenarioId);
    }
  }

  /** Fires the date and inactivity triggers whose time has come. */
  private fireDueTriggers(op: Operation, catalog: Catalog): void {
    const profile = this.store.readProfile();
    if (!profile) return;
    for (const scenarioId of this.store.dueTriggers(op.nowMs)) {
      const entry = catalog.scenarios.find((item) => item.scenario.id === scenarioId);
      const state = this.store.readTriggerState(scenarioId);
      if (!entry || !state) {
        this.store.deleteTriggerState(scenarioId);
        continue;
      }
      const { scenario, version } = entry;
      const trigger = scenario.trigger;
      if (trigger.type === "date") {
        const triggerEvent = syntheticTrigger({
          id: `date-${state.state}`,
          name: "Date Reached",
          properties: {
            trait: trigger.trait,
            date: op.snapshot.traits[trigger.trait] ?? null,
            year: state.state,
          },
          atMs: state.dueAtMs ?? op.nowMs,
          nowMs: op.nowMs,
        });
        this.store.writeTriggerState({
          scenarioId,
          kind: "date",
          dueAtMs: null,
          state: state.state,
        });
        this.tryEnter({ op, scenario, version, trigger: triggerEvent, catalog });
      } else if (trigger.type === "inactivity") {
        const args = {
          scenario,
          contact: op.snapshot,
          segments: catalog.segments,
          nowMs: op.nowMs,
        };
        const sinceMs = lastActivityMs(args) ?? profile.firstSeenMs;
        const timeZone = contactTimeZone(scenario, op.snapshot);
        const dueAtMs = inactivityDueMs({ scenario, sinceMs, timeZone });
        if (dueAtMs === null || dueAtMs > op.nowMs) continue;
        this.store.writeTriggerState({
          scenarioId,
          kind: "inactivity",
          dueAtMs: null,
          state: String(sinceMs),
        });
        const triggerEvent = syntheticTrigger({
          id: `inactivity-${sinceMs}`,
          name: "Inactivity Reached",
          properties: { event: trigger.event, since: new Date(sinceMs).toISOString() },
          atMs: dueAtMs,
          nowMs: op.nowMs,
        });
        this.tryEnter({ op, scenario, version, trigger: triggerEvent, catalog });
      } else {
        this.store.deleteTriggerState(scenarioId);
      }
    }
  }

  private advance(input: {
    op: Operation;
    run: RunState;
    scenario: Scenario;
    input: RunInput;
    catalog: Catalog;
  }): void {
    const { op, scenario } = input;
    const result = advanceRun({
      scenario,
      run: input.run,
      input: input.input,
      contact: op.snapshot,
      segments: input.catalog.segments,
      nowMs: op.nowMs,
    });
    this.store.writeRun(result.run);
    this.applyEffects({
      op,
      scenario,
      result,
      event: input.input.kind === "event" ? input.input.event : null,
    });
  }

  private applyEffects(input: {
    op: Operation;
    scenario: Scenario;
    result: AdvanceResult;
    event: ContactEvent | null;
  }): void {
    const { op, result } = input;
    const run = result.run;
    for (const effect of result.effects) {
      switch (effect.type) {
        case "metric":
          this.count(op, run, effect.stepId, effect.metric);
          break;
        case "update": {
          const profile = this.store.readProfile();
          if (!profile) break;
          this.store.writeProfile({ ...profile, traits: result.traits, lastSeenMs: op.nowMs });
          op.snapshot.traits = result.traits;
          this.queueIndexUpdate(op, profile.firstSeenMs);
          break;
        }
        case "send":
        case "suppress": {
          const job: SendJob = {
            kind: "send",
            messageId: effect.key,
            contactId: op.contactId,
            scenarioId: run.scenarioId,
            scenarioVersion: run.version,
            runId: run.id,
            stepId: effect.stepId,
            channel: effect.channel,
            templateId: effect.template,
            to: effect.type === "send" ? effect.to : null,
            topic: input.scenario.consent,
            transactional: input.scenario.consent === "transactional",
            suppressedReason: effect.type === "suppress" ? effect.reason : null,
            trigger: run.trigger,
            event: input.event,
            createdAtMs: op.nowMs,
          };
          this.store.addPendingJob(job.messageId, job, op.nowMs);
          op.jobs += 1;
          this.logger.info(effect.type === "send" ? "message:queue" : "message:suppress", {
            contactId: op.contactId,
            runId: run.id,
            stepId: effect.stepId,
          });
          break;
        }
      }
    }
  }

  private count(op: Operation, run: RunState, stepId: string, metric: MetricCount["metric"]): void {
    const key = `${run.scenarioId}@${run.version}/${stepId}/${metric}`;
    const current = op.metrics.get(key);
    if (current) current.count += 1;
    else
      op.metrics.set(key, {
        scenarioId: run.scenarioId,
        version: run.version,
        stepId,
        metric,
        count: 1,
      });
  }

  private queueIndexUpdate(op: Operation, firstSeenAtMs: number): void {
    const job: Job = {
      kind: "contact-index",
      contactId: op.contactId,
      traits: op.snapshot.traits,
      timeZone: (op.snapshot.traits.timezone as string | undefined) ?? op.snapshot.contextTimeZone,
      firstSeenAtMs,
      lastSeenAtMs: op.nowMs,
    };
    // One index row per contact: a later update of the same operation replaces the job.
    this.store.replacePendingJob(`${op.contactId}:index`, job, op.nowMs);
  }

  /** Re-arms the contact's own triggers, then queues the operation's counters. */
  private finishOperation(op: Operation, catalog: Catalog): void {
    this.syncTriggers(op, catalog);
    if (op.metrics.size === 0) return;
    const batchId = `${op.contactId}:metrics:${op.nowMs}:${crypto.randomUUID()}`;
    this.store.addPendingJob(
      batchId,
      { kind: "metrics", batchId, counts: [...op.metrics.values()] },
      op.nowMs,
    );
  }

  /** Hands pending jobs to the queue, then re-arms the alarm through the one place that does. */
  private async dispatchAndArm(nowMs: number): Promise<void> {
    const pending = this.store.pendingJobs();
    let failed = false;
    for (let start = 0; start < pending.length; start += QUEUE_BATCH_LIMIT) {
      const chunk = pending.slice(start, start + QUEUE_BATCH_LIMIT);
      try {
        await this.env.SENDS.sendBatch(
          chunk.map(({ job }) => ({ body: job, contentType: "json" })),
        );
        this.store.markDispatched(
          chunk.map(({ key }) => key),
          Date.now(),
        );
      } catch (error) {
        failed = true;
        this.logger.error("queue:dispatch-failed", { jobs: chunk.length, error: String(error) });
        break;
      }
    }
    await this.armAlarm(failed ? nowMs + DISPATCH_RETRY_MS : null);
  }

  private async armAlarm(retryAtMs: number | null): Promise<void> {
    const candidates = [this.store.earliestDueMs(), retryAtMs].filter(
      (ms): ms is number => ms !== null,
    );
    const nextMs = candidates.length > 0 ? Math.min(...candidates) : null;
    const currentMs = await this.ctx.storage.getAlarm();
    if (nextMs === null) {
      if (currentMs !== null) await this.ctx.storage.deleteAlarm();
      return;
    }
    if (currentMs !== nextMs) await this.ctx.storage.setAlarm(nextMs);
  }
}
