import { DurableObject } from "cloudflare:workers";
import { getCatalog, getScenarioVersion, type Catalog } from "../src/catalog/catalog";
import { parseFrequencyCaps } from "../src/config/caps";
import type { ConsentStatus, ContactEvent } from "../src/engine/contact";
import {
  ContactEngine,
  type EntryResult,
  type IngestCall,
  type MergedContact,
} from "../src/engine/contact-engine";
import { consentBlock, capReleaseMs, type FrequencyCaps } from "../src/engine/send-rules";
import type { RunState } from "../src/engine/run";
import type { Scenario } from "../src/engine/scenario";
import type { Env } from "../src/env";
import type { Job } from "../src/queue/jobs";
import { loggerFor, type Logger } from "../src/shared/logger";
import { classifyEngagement } from "../src/tracking/classify";
import { ContactStore } from "./contact-store";
import { contactStub } from "./contact-stub";

export type { IngestCall };

/** Soft bounces in a row after which an address is suppressed like a hard bounce. */
export const SOFT_BOUNCES_BEFORE_SUPPRESSION = 3;

/**
 * With `ALARMS=manual` (the test suite, whose clock is virtual) the object records its next
 * wake-up instead of asking the runtime, which would fire past alarms on the real clock.
 */
export const MANUAL_ALARM_KEY = "manual_alarm_ms";

/** Delay before retrying jobs the queue refused. */
const DISPATCH_RETRY_MS = 10_000;

/** Cloudflare Queues: at most 100 messages and 256 KB per batch, 128 KB per message. */
const QUEUE_BATCH_LIMIT = 100;
const QUEUE_BATCH_LIMIT_BYTES = 240_000;
const QUEUE_MESSAGE_LIMIT_BYTES = 120_000;

/**
 * Pending jobs in queue batches within the count and size limits, in order; a job over the
 * message limit travels alone so the caller can set it aside.
 */
export function queueBatches(
  pending: Array<{ key: string; job: Job }>,
): Array<Array<{ key: string; job: Job; bytes: number }>> {
  const encoder = new TextEncoder();
  const batches: Array<Array<{ key: string; job: Job; bytes: number }>> = [];
  let current: Array<{ key: string; job: Job; bytes: number }> = [];
  let currentBytes = 0;
  for (const item of pending) {
    const bytes = encoder.encode(JSON.stringify(item.job)).length;
    const full =
      current.length >= QUEUE_BATCH_LIMIT || currentBytes + bytes > QUEUE_BATCH_LIMIT_BYTES;
    if (current.length > 0 && (full || bytes > QUEUE_MESSAGE_LIMIT_BYTES)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push({ ...item, bytes });
    currentBytes += bytes;
    if (bytes > QUEUE_MESSAGE_LIMIT_BYTES) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export type SendAuthorization =
  | {
      ok: true;
      contact: { id: string; traits: Record<string, unknown> };
      /** The run's starting event and the event that woke the step, for the template. */
      trigger: ContactEvent | null;
      event: ContactEvent | null;
    }
  | { ok: false; reason: string };

export type CampaignOutcome = {
  outcome: "queued" | "entered" | "suppressed" | "skipped";
  reason: string | null;
  messageId: string | null;
};

/**
 * A contact: its profile, consent, bounded event history, live runs and their schedule. Owns
 * its SQLite schema and its single alarm, always set to the earliest scheduled wake-up. The
 * decisions are the engine's; this object loads, saves, dispatches and re-arms.
 */
export class ContactObject extends DurableObject<Env> {
  private readonly store: ContactStore;
  private readonly logger: Logger;
  private readonly caps: FrequencyCaps;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ContactStore(ctx.storage.sql);
    this.logger = loggerFor(env);
    const caps = parseFrequencyCaps(env.FREQUENCY_CAPS);
    if (!caps.ok) this.logger.error("config:invalid", { error: caps.error });
    this.caps = caps.ok ? caps.caps : {};
    ctx.blockConcurrencyWhile(async () => this.store.migrate());
  }

  /** Takes a batch of calls for this contact: de-duplicates, stores, and runs scenarios. */
  async ingest(input: {
    contactId: string;
    calls: IngestCall[];
  }): Promise<{ accepted: number; duplicates: number }> {
    for (const call of input.calls) {
      if (call.type === "alias") call.merge = await this.exportFrom(input.contactId, call);
    }
    return this.operate(input.contactId, (engine) => {
      let accepted = 0;
      for (const call of input.calls) if (engine.applyCall(call)) accepted += 1;
      return { accepted, duplicates: input.calls.length - accepted };
    });
  }

  /** Wakes the runs whose time has come; a repeated alarm finds nothing due and does nothing. */
  override async alarm(): Promise<void> {
    const profile = this.store.readProfile();
    if (!profile) {
      await this.dispatchAndArm(Date.now());
      return;
    }
    await this.operate(profile.contactId, (engine) => engine.fireDue());
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
    eventId: string | null;
  }): Promise<SendAuthorization> {
    const profile = this.store.readProfile();
    if (!profile) return { ok: false, reason: "contact erased" };
    const run = input.runId ? this.store.readRun(input.runId) : null;
    if (run?.status === "exited") return { ok: false, reason: `run exited: ${run.endReason}` };
    const contact = { consent: this.store.readConsent() };
    const blocked = consentBlock({ contact, topic: input.topic, channel: input.channel });
    if (blocked) return { ok: false, reason: blocked };
    this.store.markHandedOff({ ...input, atMs: Date.now() });
    return {
      ok: true,
      contact: { id: profile.contactId, traits: profile.traits },
      trigger: run?.trigger ?? null,
      event: input.eventId ? this.store.readEvent(input.eventId) : null,
    };
  }

  /**
   * Records an open or click from the tracking routes or a provider. Machine engagement is
   * stored but never resolves a wait or a branch.
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
    const profile = this.store.readProfile();
    const classify = () => {
      // Read inside the operation's transaction: a burst of parallel scanner clicks must see
      // each other, which it would not across the operation's awaits.
      const sent = this.store.handedOff(input.messageId);
      const recentClicksAtMs = this.store
        .readEngagements()
        .filter((e) => e.messageId === input.messageId && e.kind === "clicked")
        .map((e) => e.atMs);
      return classifyEngagement({
        kind: input.kind,
        method: input.method,
        userAgent: input.userAgent,
        ip: input.ip,
        atMs: input.atMs,
        sentAtMs: sent?.atMs ?? null,
        recentClicksAtMs,
        machineHint: input.machineHint,
      });
    };
    if (!profile) return classify();
    return this.operate(profile.contactId, (engine) => {
      const verdict = classify();
      engine.engage({ ...input, machine: verdict.machine, reason: verdict.reason });
      return verdict;
    });
  }

  /** Records a provider's delivery, bounce or complaint, and suppresses the address if due. */
  async recordDelivery(input: {
    messageId: string;
    kind: "delivered" | "bounced" | "complained";
    bounce: "hard" | "soft" | null;
    atMs: number;
    source: string;
  }): Promise<{ suppressed: boolean }> {
    const profile = this.store.readProfile();
    if (!profile) return { suppressed: false };
    return this.operate(profile.contactId, (engine) => {
      const channel = this.store.handedOff(input.messageId)?.channel ?? "email";
      const counterKey = `soft_bounces:${channel}`;
      let suppress = input.kind === "complained" || input.bounce === "hard";
      if (input.kind === "delivered") this.store.writeMeta(counterKey, "0");
      if (input.kind === "bounced" && input.bounce !== "hard") {
        const inARow = Number(this.store.readMeta(counterKey) ?? 0) + 1;
        this.store.writeMeta(counterKey, String(inARow));
        suppress = inARow >= SOFT_BOUNCES_BEFORE_SUPPRESSION;
      }
      if (suppress) {
        const cause =
          input.kind === "complained" ? "complaint" : `${input.bounce ?? "soft"}-bounce`;
        engine.setConsent({
          topic: `suppressed:${channel}`,
          status: "unsubscribed",
          source: `${input.source}:${cause}`,
          atMs: input.atMs,
        });
      }
      engine.engage({ ...input, machine: false, reason: null, url: null });
      return { suppressed: suppress };
    });
  }

  /** Enters the contact into a scenario with an `api` trigger (`POST /api/scenarios/:id/enrol`). */
  async enrol(input: {
    contactId: string;
    scenarioId: string;
    properties: Record<string, unknown>;
    requestId: string;
  }): Promise<EntryResult> {
    return this.operate(input.contactId, (engine) =>
      engine.enterExplicitly({
        scenarioId: input.scenarioId,
        triggerType: "api",
        triggerId: `api-${input.requestId}`,
        properties: input.properties,
      }),
    );
  }

  /**
   * A campaign reaches the contact: one campaign message, or entry into the campaign's
   * scenario. Idempotent per campaign: a repeated call answers the first outcome.
   */
  async enterCampaign(input: {
    contactId: string;
    campaignId: string;
    scenarioId: string | null;
    templateId: string | null;
    channel: "email" | "sms" | "push";
    topic: string;
  }): Promise<CampaignOutcome> {
    const metaKey = `campaign:${input.campaignId}`;
    return this.operate(input.contactId, (engine) => {
      // Checked inside the transaction, so that two deliveries of the same page cannot both
      // pass it across the operation's awaits.
      const known = this.store.readMeta(metaKey);
      if (known) return JSON.parse(known) as CampaignOutcome;
      const outcome = this.reachByCampaign(engine, input);
      this.store.writeMeta(metaKey, JSON.stringify(outcome));
      return outcome;
    });
  }

  private reachByCampaign(
    engine: ContactEngine,
    input: Parameters<ContactObject["enterCampaign"]>[0],
  ): CampaignOutcome {
    if (input.scenarioId) {
      const entry = engine.enterExplicitly({
        scenarioId: input.scenarioId,
        triggerType: "campaign",
        campaignId: input.campaignId,
        triggerId: `campaign-${input.campaignId}`,
        properties: { campaign: input.campaignId },
      });
      return entry.entered
        ? { outcome: "entered", reason: null, messageId: entry.runId }
        : { outcome: "skipped", reason: entry.reason, messageId: null };
    }
    if (!input.templateId) return { outcome: "skipped", reason: "no template", messageId: null };

    const nowMs = engine.deps.nowMs;
    const messageId = `${input.contactId}:campaign-${input.campaignId}`;
    const blocked =
      consentBlock({ contact: engine.snapshot, topic: input.topic, channel: input.channel }) ??
      (capReleaseMs({
        caps: this.caps,
        channel: input.channel,
        contact: engine.snapshot,
        atMs: nowMs,
        timeZone: "UTC",
      }) !== null
        ? "frequency cap"
        : null);
    engine.emit(messageId, {
      kind: "send",
      messageId,
      contactId: input.contactId,
      scenarioId: null,
      scenarioVersion: null,
      runId: null,
      stepId: `campaign:${input.campaignId}`,
      channel: input.channel,
      templateId: input.templateId,
      to: null,
      topic: input.topic,
      transactional: false,
      suppressedReason: blocked,
      eventId: null,
      createdAtMs: nowMs,
    });
    if (blocked) return { outcome: "suppressed", reason: blocked, messageId };
    this.store.recordSend({ messageId, channel: input.channel, marketing: true, atMs: nowMs });
    return { outcome: "queued", reason: null, messageId };
  }

  /**
   * The data of the contact an `alias` names (`previousId`, as an anonymous id first, then as a
   * user id), which is marked as merged into this one.
   */
  private async exportFrom(contactId: string, call: IngestCall): Promise<MergedContact | null> {
    const previousId = call.properties.previousId;
    if (typeof previousId !== "string" || previousId === "") return null;
    for (const candidate of [`anon:${previousId}`, previousId]) {
      if (candidate === contactId) continue;
      const merged = await contactStub(this.env, candidate).handOverTo(contactId);
      if (merged) return merged;
    }
    return null;
  }

  /**
   * Gives this contact's profile, history and consent to the contact it was aliased to, and
   * remembers where it went. Null when there is nothing here.
   */
  async handOverTo(contactId: string): Promise<MergedContact | null> {
    const profile = this.store.readProfile();
    if (!profile) return null;
    this.store.writeMeta("merged_into", contactId);
    const snapshot = this.store.snapshot(profile.contactId);
    return {
      contactId: profile.contactId,
      traits: profile.traits,
      events: snapshot.events,
      consent: snapshot.consent,
    };
  }

  /** Re-evaluates the contact's date, inactivity, condition and segment triggers. */
  async sync(): Promise<void> {
    const profile = this.store.readProfile();
    if (profile) await this.operate(profile.contactId, () => undefined);
  }

  /** Sets consent for a topic (or `channel:<name>`, `all`, `suppressed:<channel>`), with its source. */
  async setConsent(input: { topic: string; status: ConsentStatus; source: string }): Promise<void> {
    const profile = this.store.readProfile();
    if (!profile) {
      this.store.writeConsent({ ...input, atMs: Date.now() });
      return;
    }
    await this.operate(profile.contactId, (engine) =>
      engine.setConsent({ ...input, atMs: engine.deps.nowMs }),
    );
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
      alarmAtMs: await this.alarmAtMs(),
    };
  }

  /** When the object will wake next: the runtime's alarm, or the recorded one in manual mode. */
  async alarmAtMs(): Promise<number | null> {
    if (this.env.ALARMS !== "manual") return this.ctx.storage.getAlarm();
    const recorded = this.store.readMeta(MANUAL_ALARM_KEY);
    return recorded ? Number(recorded) : null;
  }

  /** Jobs this object handed to the queue, oldest first. */
  async dispatchedJobs(): Promise<Job[]> {
    return this.store.dispatchedJobs();
  }

  /** Erases the contact's data and its alarm. */
  async erase(): Promise<void> {
    this.store.eraseAll();
    await this.ctx.storage.deleteAlarm();
  }

  /**
   * One operation: load the definitions, decide inside a storage transaction (state and the
   * jobs it produced are saved together), then hand the jobs to the queue and re-arm.
   */
  private async operate<T>(contactId: string, work: (engine: ContactEngine) => T): Promise<T> {
    const nowMs = Date.now();
    const catalog = await getCatalog(this.env.DB);
    const versions = await this.loadRunVersions(catalog);

    const result = this.transaction(() => {
      const engine = new ContactEngine({
        state: this.store,
        contactId,
        nowMs,
        catalog,
        versions,
        caps: this.caps,
        logger: this.logger,
      });
      const value = work(engine);
      for (const { key, job, replace } of engine.finish().jobs) {
        if (replace) this.store.replacePendingJob(key, job, nowMs);
        else this.store.addPendingJob(key, job, nowMs);
      }
      this.store.prune(nowMs);
      return value;
    });

    await this.dispatchAndArm(nowMs);
    return result;
  }

  /** A storage transaction; if it throws, the store's caches are dropped with its writes. */
  private transaction<T>(work: () => T): T {
    try {
      return this.ctx.storage.transactionSync(work);
    } catch (error) {
      this.store.forgetCaches();
      throw error;
    }
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

  /** Hands pending jobs to the queue, then re-arms the alarm through the one place that does. */
  private async dispatchAndArm(nowMs: number): Promise<void> {
    let failed = false;
    for (const chunk of queueBatches(this.store.pendingJobs())) {
      const tooLarge = chunk.filter(({ bytes }) => bytes > QUEUE_MESSAGE_LIMIT_BYTES);
      if (tooLarge.length > 0) {
        // A job the queue can never take must not hold back the others; it is kept in the
        // dispatch log for inspection.
        this.logger.error("queue:job-too-large", { keys: tooLarge.map(({ key }) => key) });
        this.store.markDispatched(
          tooLarge.map(({ key }) => key),
          Date.now(),
        );
        continue;
      }
      try {
        await this.env.SENDS.sendBatch(
          chunk.map(({ job }) => ({ body: job, contentType: "json" as const })),
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
    if (this.env.ALARMS === "manual") {
      this.store.writeMeta(MANUAL_ALARM_KEY, nextMs === null ? "" : String(nextMs));
      return;
    }
    const currentMs = await this.ctx.storage.getAlarm();
    if (nextMs === null) {
      if (currentMs !== null) await this.ctx.storage.deleteAlarm();
      return;
    }
    if (currentMs !== nextMs) await this.ctx.storage.setAlarm(nextMs);
  }
}
