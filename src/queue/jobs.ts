import type { CampaignJob } from "../campaigns/jobs";
import type { StepMetric } from "../engine/run";
import type { Channel } from "../engine/scenario";

/** A message to render and hand to a provider; `messageId` is the effect's idempotency key. */
export interface SendJob {
  kind: "send";
  messageId: string;
  contactId: string;
  scenarioId: string | null;
  scenarioVersion: number | null;
  runId: string | null;
  stepId: string | null;
  channel: Channel;
  templateId: string;
  to: string | null;
  topic: string;
  transactional: boolean;
  /** Set when the object already knew the message must not go (consent at scheduling). */
  suppressedReason: string | null;
  /**
   * The event that woke the step, if any. The starting event and this one are read from the
   * contact at hand-off, not carried: a queue message is limited to 128 KB.
   */
  eventId: string | null;
  createdAtMs: number;
}

export interface MetricCount {
  scenarioId: string;
  version: number;
  stepId: string;
  metric: StepMetric;
  count: number;
}

/** Step counters from one object operation; `batchId` makes a redelivery count once. */
export interface MetricsJob {
  kind: "metrics";
  batchId: string;
  counts: MetricCount[];
}

/** The contact's traits, mirrored into the D1 index. */
export interface ContactIndexJob {
  kind: "contact-index";
  contactId: string;
  traits: Record<string, unknown>;
  timeZone: string | null;
  firstSeenAtMs: number;
  lastSeenAtMs: number;
}

/** An open, click, delivery, bounce or complaint, mirrored into D1 for statistics. */
export interface EngagementJob {
  kind: "engagement";
  messageId: string;
  contactId: string;
  scenarioId: string | null;
  stepId: string | null;
  engagement: "delivered" | "opened" | "clicked" | "bounced" | "complained";
  atMs: number;
  machine: boolean;
  reason: string | null;
  url: string | null;
  source: string;
}

/**
 * Asks every indexed contact, a page at a time, to re-arm its own triggers after a publish of
 * a scenario with a date, inactivity, condition or segment trigger.
 */
export interface SyncContactsJob {
  kind: "sync-contacts";
  reason: string;
  afterContactId: string | null;
}

/** A contact entered (`member`) or left a segment; mirrored into D1 `segment_members`. */
export interface SegmentMembershipJob {
  kind: "segment-membership";
  contactId: string;
  segmentId: string;
  member: boolean;
  atMs: number;
}

export type Job =
  | SendJob
  | MetricsJob
  | ContactIndexJob
  | EngagementJob
  | SyncContactsJob
  | SegmentMembershipJob
  | CampaignJob;
