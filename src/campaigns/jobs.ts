/** Queue jobs of a campaign broadcast: start, one page of the segment at a time, finish. */

/** Starts a due campaign, or marks it expired when it comes past its allowed lateness. */
export interface CampaignStartJob {
  kind: "campaign-start";
  campaignId: string;
}

/** Enters the segment's contacts after `afterContactId` ('' for the first page), in id order. */
export interface CampaignPageJob {
  kind: "campaign-page";
  campaignId: string;
  afterContactId: string;
}

/**
 * Settles the campaign once every recipient has a final state; `firstCheckAtMs` is when the
 * fan-out ended, from which the wait for send results is bounded.
 */
export interface CampaignFinishJob {
  kind: "campaign-finish";
  campaignId: string;
  firstCheckAtMs: number;
}

export type CampaignJob = CampaignStartJob | CampaignPageJob | CampaignFinishJob;
