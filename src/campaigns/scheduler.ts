/** Starts scheduled campaigns when they are due; run by the Worker's cron every minute. */
import type { Env } from "../env";
import type { CampaignStartJob } from "./jobs";
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
