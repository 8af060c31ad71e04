/**
 * Campaign fan-out over the queue: a start job checks lateness and opens the first page; each
 * page job enters up to PAGE_SIZE segment members into the campaign, writes their outcomes and
 * queues the next page; a finish job settles the campaign once every recipient has a result.
 * Queue messages may be delivered twice and pages may crash half-way: a contact with a
 * recipient row is never asked again, and the contact's object answers a repeat with its first
 * outcome, so each contact gets at most one send.
 */
import { contactStub } from "../../durable-objects/contact-stub";
import { campaignPages } from "../db/schema";
import type { Env } from "../env";
import type { Logger } from "../shared/logger";
import type { EnterCampaignInput, EnterCampaignResult } from "./campaign";
import type { CampaignFinishJob, CampaignJob, CampaignPageJob, CampaignStartJob } from "./jobs";
import {
  campaignDb,
  countRecipients,
  donePage,
  failUnsettledRecipients,
  insertRecipients,
  loadCampaign,
  recipientsBetween,
  saveCounts,
  segmentPage,
  transition,
  type CampaignRow,
  type RecipientRow,
} from "./store";

/** Segment members entered per page job. */
export const PAGE_SIZE = 100;

/** Contact objects called at once by one page job. */
const ENTER_CONCURRENCY = 20;

/** From this delivery of a page on, a contact whose object still fails is recorded `failed`. */
export const CONTACT_FAILED_AT_ATTEMPT = 3;

/** How long the finish job waits for send results after the fan-out, and how often it looks. */
export const SEND_RESULT_WAIT_MS = 24 * 3_600_000;
export const FINISH_RECHECK_SECONDS = 60;

export type EnterCampaign = (
  contactId: string,
  input: EnterCampaignInput,
) => Promise<EnterCampaignResult>;

export interface CampaignDependencies {
  env: Pick<Env, "DB">;
  enterCampaign: EnterCampaign;
  enqueue: (job: CampaignJob, options?: { delaySeconds?: number }) => Promise<void>;
  nowMs: () => number;
  logger: Logger;
}

/** The dependencies of the Worker's queue consumer: contact objects and the sends queue. */
export function campaignDependencies(input: {
  env: Env;
  logger: Logger;
  nowMs: () => number;
}): CampaignDependencies {
  const { env } = input;
  return {
    env,
    enterCampaign: (contactId, entry) =>
      contactStub(env, contactId).enterCampaign({ contactId, ...entry }),
    enqueue: async (job, options) => {
      await env.SENDS.send(job, { contentType: "json", delaySeconds: options?.delaySeconds });
    },
    nowMs: input.nowMs,
    logger: input.logger,
  };
}

/** Handles one campaign job; `attempts` is the queue's delivery count, 1 on the first. */
export async function handleCampaignJob(input: {
  job: CampaignJob;
  attempts: number;
  deps: CampaignDependencies;
}): Promise<void> {
  const { job, attempts, deps } = input;
  switch (job.kind) {
    case "campaign-start":
      return startCampaign(job, attempts, deps);
    case "campaign-page":
      return enterPage(job, attempts, deps);
    case "campaign-finish":
      return finishCampaign(job, deps);
  }
}

const firstPage = (campaignId: string): CampaignPageJob => ({
  kind: "campaign-page",
  campaignId,
  afterContactId: "",
});

async function startCampaign(
  job: CampaignStartJob,
  attempts: number,
  deps: CampaignDependencies,
): Promise<void> {
  const db = campaignDb(deps.env.DB);
  const nowMs = deps.nowMs();
  const ids = { campaignId: job.campaignId };
  const campaign = await loadCampaign(db, job.campaignId);
  if (!campaign) {
    deps.logger.warn("campaign:start-unknown", ids);
    return;
  }

  if (campaign.status === "scheduled") {
    const sendAtMs = campaign.sendAtMs ?? nowMs;
    // Rescheduled later after this job was queued: the scheduler starts it when it is due.
    if (sendAtMs > nowMs) return;
    if (nowMs > sendAtMs + campaign.maxLatenessMs) {
      const expired = await transition(db, {
        id: campaign.id,
        from: ["scheduled"],
        to: "expired",
        set: { finishedAtMs: nowMs },
        nowMs,
      });
      if (expired) deps.logger.warn("campaign:expire", { ...ids, lateMs: nowMs - sendAtMs });
      return;
    }
    const started = await transition(db, {
      id: campaign.id,
      from: ["scheduled"],
      to: "running",
      set: { startedAtMs: nowMs },
      nowMs,
    });
    if (started) {
      deps.logger.info("campaign:start", { ...ids, lateMs: nowMs - sendAtMs });
      await deps.enqueue(firstPage(campaign.id));
      return;
    }
  }

  // A retry may follow a failure between the status change and the queue: open the first page
  // again unless it is done. A first delivery here is a duplicate start and does nothing.
  if (attempts === 1) return;
  const current = await loadCampaign(db, job.campaignId);
  if (current?.status !== "running") return;
  if (await donePage(db, { campaignId: job.campaignId, afterContactId: "" })) return;
  await deps.enqueue(firstPage(job.campaignId));
}

/** Calls `run` on every item, at most `limit` at once; never rejects. */
async function settleAll<T, R>(
  items: T[],
  limit: number,
  run: (item: T) => Promise<R>,
): Promise<Array<{ item: T; result: PromiseSettledResult<R> }>> {
  const settled: Array<{ item: T; result: PromiseSettledResult<R> }> = [];
  // One iterator shared by the workers: each takes the next item when it is free.
  const pending = items.values();
  const worker = async () => {
    for (const item of pending) {
      try {
        settled.push({ item, result: { status: "fulfilled", value: await run(item) } });
      } catch (reason) {
        settled.push({ item, result: { status: "rejected", reason } });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return settled;
}

function entryOf(campaign: CampaignRow): EnterCampaignInput {
  return {
    campaignId: campaign.id,
    scenarioId: campaign.scenarioId,
    templateId: campaign.templateId,
    channel: campaign.channel,
    topic: campaign.topic,
  };
}

/** The job that follows a page: the next page, or the finish once the segment is exhausted. */
function jobAfter(input: {
  campaignId: string;
  nextAfterContactId: string | null;
  doneAtMs: number;
}): CampaignJob {
  if (input.nextAfterContactId === null) {
    return {
      kind: "campaign-finish",
      campaignId: input.campaignId,
      firstCheckAtMs: input.doneAtMs,
    };
  }
  return {
    kind: "campaign-page",
    campaignId: input.campaignId,
    afterContactId: input.nextAfterContactId,
  };
}

async function enterPage(
  job: CampaignPageJob,
  attempts: number,
  deps: CampaignDependencies,
): Promise<void> {
  const db = campaignDb(deps.env.DB);
  const ids = { campaignId: job.campaignId, afterContactId: job.afterContactId };
  const campaign = await loadCampaign(db, job.campaignId);
  if (campaign?.status !== "running") {
    deps.logger.info("campaign:page-skip", { ...ids, status: campaign?.status ?? null });
    return;
  }
  const done = await donePage(db, job);
  if (done) {
    // Only a retry can follow a crash between marking the page done and queuing what follows.
    if (attempts > 1) await deps.enqueue(jobAfter(done));
    return;
  }

  const contactIds = await segmentPage(db, {
    segmentId: campaign.segmentId,
    afterContactId: job.afterContactId,
    limit: PAGE_SIZE,
  });
  const lastContactId = contactIds.at(-1);
  const reached =
    lastContactId === undefined
      ? new Set<string>()
      : await recipientsBetween(db, { ...job, lastContactId });
  const missing = contactIds.filter((contactId) => !reached.has(contactId));

  const entry = entryOf(campaign);
  const settled = await settleAll(missing, ENTER_CONCURRENCY, (contactId) =>
    deps.enterCampaign(contactId, entry),
  );
  const nowMs = deps.nowMs();
  const rows: RecipientRow[] = [];
  const failed: string[] = [];
  for (const { item: contactId, result } of settled) {
    if (result.status === "fulfilled") {
      const { outcome, reason, messageId } = result.value;
      rows.push({ campaignId: campaign.id, contactId, outcome, reason, messageId, atMs: nowMs });
    } else {
      failed.push(contactId);
      deps.logger.warn("campaign:enter-failed", {
        ...ids,
        contactId,
        attempts,
        error: result.reason instanceof Error ? result.reason.message : String(result.reason),
      });
    }
  }

  if (failed.length > 0 && attempts < CONTACT_FAILED_AT_ATTEMPT) {
    // Keep what succeeded, so that the redelivered page asks only the contacts that failed.
    const statements = insertRecipients(db, rows);
    const [first, ...rest] = statements;
    if (first) await db.batch([first, ...rest]);
    throw new Error(`${failed.length} of ${contactIds.length} contacts failed; page retried`);
  }
  for (const contactId of failed) {
    rows.push({
      campaignId: campaign.id,
      contactId,
      outcome: "failed",
      reason: `contact object failed on ${attempts} deliveries`,
      messageId: null,
      atMs: nowMs,
    });
  }
  const page = {
    campaignId: campaign.id,
    afterContactId: job.afterContactId,
    contactCount: contactIds.length,
    nextAfterContactId: contactIds.length === PAGE_SIZE ? (lastContactId ?? null) : null,
    doneAtMs: nowMs,
  };
  await db.batch([
    db.insert(campaignPages).values(page).onConflictDoNothing(),
    ...insertRecipients(db, rows),
  ]);
  const counts = await countRecipients(db, campaign.id);
  await saveCounts(db, { campaignId: campaign.id, counts, nowMs });
  deps.logger.info("campaign:page", { ...ids, contacts: contactIds.length, entered: rows.length });

  await deps.enqueue(jobAfter(page));
}

async function finishCampaign(job: CampaignFinishJob, deps: CampaignDependencies): Promise<void> {
  const db = campaignDb(deps.env.DB);
  const nowMs = deps.nowMs();
  const ids = { campaignId: job.campaignId };
  const campaign = await loadCampaign(db, job.campaignId);
  if (campaign?.status !== "running") return;

  let counts = await countRecipients(db, campaign.id);
  if (counts.queued > 0 && nowMs < job.firstCheckAtMs + SEND_RESULT_WAIT_MS) {
    await saveCounts(db, { campaignId: campaign.id, counts, nowMs });
    await deps.enqueue(job, { delaySeconds: FINISH_RECHECK_SECONDS });
    return;
  }
  if (counts.queued > 0) {
    deps.logger.warn("campaign:sends-unsettled", { ...ids, unsettled: counts.queued });
    await failUnsettledRecipients(db, {
      campaignId: campaign.id,
      reason: `no send result within ${SEND_RESULT_WAIT_MS / 3_600_000} hours`,
      nowMs,
    });
    counts = await countRecipients(db, campaign.id);
  }

  const finished = await transition(db, {
    id: campaign.id,
    from: ["running"],
    to: "finished",
    set: { ...counts, finishedAtMs: nowMs },
    nowMs,
  });
  if (finished) deps.logger.info("campaign:finish", { ...ids, ...counts });
}
