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
      this.finishOperation(op);
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
        this.finishOperation(op);
      });
    }
    await this.dispatchAndArm(nowMs);
  }

  /** Called by the send consumer right before a provider: is this message still wanted? */
  async authorizeSend(input: {
    runId: string | null;
    channel: string;
    topic: string;
  }): Promise<SendAuthorization> {
    const profile = this.store.readProfile();
    if (!profile) return { ok: false, reason: "contact erased" };
    const run = input.runId ? this.store.readRun(input.runId) : null;
    if (run?.status === "exited") return { ok: false, reason: `run exited: ${run.endReason}` };
    const snapshot = this.store.snapshot(profile.contactId);
    const blocked = consentBlock({ contact: snapshot, topic: input.topic, channel: input.channel });
    if (blocked) return { ok: false, reason: blocked };
    return { ok: true, contact: { id: profile.contactId, traits: profile.traits } };
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
    alarmAtMs: number | null;
  }> {
    return {
      profile: this.store.readProfile(),
      consent: this.store.readConsentDetails(),
      runs: this.store.readRuns(),
      schedule: this.store.schedule(),
      events: this.store.readEvents(),
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
    if (call.traits) this.queueIndexUpdate(op, profile?.firstSeenMs ?? op.nowMs);

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
  }): void {
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
      return;
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
            messageId: `${op.contactId}:${effect.key}`,
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

  private finishOperation(op: Operation): void {
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
