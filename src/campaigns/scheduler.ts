/** Starts scheduled campaigns when they are due; run by the Worker's cron every minute. */
import type { Env } from "../env";
import { desc, eq } from "drizzle-orm";
import { campaignPages, campaigns } from "../db/schema";
import type { CampaignJob, CampaignStartJob } from "./jobs";
import { campaignDb, dueCampaignIds } from "./store";

/** A queue batch holds at most 100 messages; more due campaigns wait for the next minute. */
const STARTS_PER_RUN = 100;

/**
 * Queues a start job for every scheduled campaign whose `sendAt` has passed and answers their
 * ids. A campaign stays scheduled until its start job runs, so a slow queue may get the same
 * start twice: the start job changes the status only from `scheduled`, once.
 */
export async function startDueCampaigns(env: Env, nowMs: number): Promise<string[]> {
  const ids = await dueCampaignIds(campaignDb(env.DB), { nowMs, limit: STARTS_PER_RUN });
  if (ids.length === 0) return ids;

  await env.SENDS.sendBatch(
    ids.map((campaignId) => ({
      body: { kind: "campaign-start", campaignId } satisfies CampaignStartJob,
      contentType: "json" as const,
    })),
  );
  return ids;
}

/** A running campaign with no page done for this long is taken to have lost a queue job. */
export const CAMPAIGN_STALL_MS = 10 * 60_000;

/**
 * Re-queues the next step of running campaigns that made no progress for a while: a page or
 * finish job that exhausted its retries would otherwise leave the campaign running forever.
 * Page and finish jobs are idempotent, so a job that was only slow does no harm.
 */
export async function resumeStalledCampaigns(env: Env, nowMs: number): Promise<CampaignJob[]> {
  const db = campaignDb(env.DB);
  const running = await db
    .select({ id: campaigns.id, startedAtMs: campaigns.startedAtMs })
    .from(campaigns)
    .where(eq(campaigns.status, "running"))
    .limit(STARTS_PER_RUN)
    .all();

  const jobs: CampaignJob[] = [];
  for (const campaign of running) {
    const last = await db
      .select()
      .from(campaignPages)
      .where(eq(campaignPages.campaignId, campaign.id))
      .orderBy(desc(campaignPages.doneAtMs))
      .limit(1)
      .get();
    const progressAtMs = last?.doneAtMs ?? campaign.startedAtMs ?? nowMs;
    if (nowMs - progressAtMs < CAMPAIGN_STALL_MS) continue;
    if (!last) jobs.push({ kind: "campaign-page", campaignId: campaign.id, afterContactId: "" });
    else if (last.nextAfterContactId !== null) {
      jobs.push({
        kind: "campaign-page",
        campaignId: campaign.id,
        afterContactId: last.nextAfterContactId,
      });
    } else {
      jobs.push({
        kind: "campaign-finish",
        campaignId: campaign.id,
        firstCheckAtMs: last.doneAtMs,
      });
    }
  }
  if (jobs.length > 0) {
    await env.SENDS.sendBatch(jobs.map((body) => ({ body, contentType: "json" as const })));
  }
  return jobs;
}
