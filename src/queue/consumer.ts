import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { campaignDependencies, handleCampaignJob } from "../campaigns/fan-out";
import { contacts, engagements, segmentMembers, stepMetrics } from "../db/schema";
import type { Env } from "../env";
import type { Logger } from "../shared/logger";
import { and, asc, eq, gt, lte } from "drizzle-orm";
import { contactStub } from "../../durable-objects/contact-stub";
import type {
  ContactIndexJob,
  EngagementJob,
  Job,
  MetricsJob,
  SegmentMembershipJob,
  SyncContactsJob,
} from "./jobs";
import { handleSendJob, type SendDependencies } from "./send-consumer";

/** Step counters: one row per batch and counter, so a redelivered batch changes nothing. */
async function recordMetrics(env: Env, job: MetricsJob): Promise<void> {
  if (job.counts.length === 0) return;
  const db = drizzle(env.DB);
  await db
    .insert(stepMetrics)
    .values(job.counts.map((count) => ({ batchId: job.batchId, ...count })))
    .onConflictDoNothing();
}

/** Mirrors a contact's traits into the D1 index; an older update never overwrites a newer one. */
async function indexContact(env: Env, job: ContactIndexJob): Promise<void> {
  const db = drizzle(env.DB);
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  await db
    .insert(contacts)
    .values({
      id: job.contactId,
      traits: job.traits,
      email: text(job.traits.email),
      phone: text(job.traits.phone),
      timezone: job.timeZone,
      firstSeenAt: job.firstSeenAtMs,
      lastSeenAt: job.lastSeenAtMs,
    })
    .onConflictDoUpdate({
      target: contacts.id,
      set: {
        traits: sql`excluded.traits`,
        email: sql`excluded.email`,
        phone: sql`excluded.phone`,
        timezone: sql`excluded.timezone`,
        lastSeenAt: sql`excluded.last_seen_at`,
      },
      setWhere: sql`excluded.last_seen_at >= ${contacts.lastSeenAt}`,
    });
}

/** Mirrors an engagement into D1; the key makes a repeat harmless. */
async function recordEngagement(env: Env, job: EngagementJob): Promise<void> {
  await drizzle(env.DB)
    .insert(engagements)
    .values({
      messageId: job.messageId,
      kind: job.engagement,
      atMs: job.atMs,
      contactId: job.contactId,
      scenarioId: job.scenarioId,
      stepId: job.stepId,
      machine: job.machine,
      reason: job.reason,
      url: job.url,
      source: job.source,
    })
    .onConflictDoUpdate({
      // A click first taken for a person can be unmasked as part of a burst, never the reverse.
      target: [engagements.messageId, engagements.kind, engagements.atMs],
      set: {
        machine: sql`max(${engagements.machine}, excluded.machine)`,
        reason: sql`excluded.reason`,
      },
      setWhere: sql`excluded.machine = 1`,
    });
}

/** Applies a membership change unless a newer one for the same pair is already there. */
async function mirrorMembership(env: Env, job: SegmentMembershipJob): Promise<void> {
  const db = drizzle(env.DB);
  const pair = and(
    eq(segmentMembers.segmentId, job.segmentId),
    eq(segmentMembers.contactId, job.contactId),
  );
  if (job.member) {
    await db
      .insert(segmentMembers)
      .values({ segmentId: job.segmentId, contactId: job.contactId, updatedAtMs: job.atMs })
      .onConflictDoUpdate({
        target: [segmentMembers.segmentId, segmentMembers.contactId],
        set: { updatedAtMs: job.atMs },
        setWhere: sql`excluded.updated_at_ms >= ${segmentMembers.updatedAtMs}`,
      });
    return;
  }
  await db.delete(segmentMembers).where(and(pair, lte(segmentMembers.updatedAtMs, job.atMs)));
}

/** Contacts asked to re-sync per queue message. */
export const SYNC_PAGE_SIZE = 100;

/** Re-syncs one page of contacts, then queues the next page; a repeat only re-syncs again. */
async function syncContacts(env: Env, job: SyncContactsJob): Promise<void> {
  const db = drizzle(env.DB);
  const page = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(job.afterContactId === null ? undefined : gt(contacts.id, job.afterContactId))
    .orderBy(asc(contacts.id))
    .limit(SYNC_PAGE_SIZE)
    .all();
  await Promise.all(page.map((row) => contactStub(env, row.id).sync()));
  const last = page.at(-1);
  if (page.length === SYNC_PAGE_SIZE && last) {
    await env.SENDS.send({ ...job, afterContactId: last.id } satisfies Job, {
      contentType: "json",
    });
  }
}

/** Handles one queue batch; each message is acked or retried on its own. */
export async function consumeBatch(
  batch: MessageBatch<Job>,
  deps: SendDependencies & { logger: Logger },
): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const job = message.body;
      try {
        switch (job.kind) {
          case "send": {
            const result = await handleSendJob(job, deps);
            if (result.outcome === "retry") {
              message.retry({ delaySeconds: Math.ceil(result.delayMs / 1000) });
              return;
            }
            break;
          }
          case "metrics":
            await recordMetrics(deps.env, job);
            break;
          case "contact-index":
            await indexContact(deps.env, job);
            break;
          case "engagement":
            await recordEngagement(deps.env, job);
            break;
          case "sync-contacts":
            await syncContacts(deps.env, job);
            break;
          case "segment-membership":
            await mirrorMembership(deps.env, job);
            break;
          case "campaign-start":
          case "campaign-page":
          case "campaign-finish":
            await handleCampaignJob({
              job,
              attempts: message.attempts,
              deps: campaignDependencies(deps),
            });
            break;
        }
        message.ack();
      } catch (error) {
        deps.logger.error("queue:job-failed", {
          kind: job.kind,
          attempts: message.attempts,
          error: error instanceof Error ? error.message : String(error),
        });
        message.retry({ delaySeconds: Math.min(2 ** message.attempts * 5, 600) });
      }
    }),
  );
}
