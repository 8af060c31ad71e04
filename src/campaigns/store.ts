/**
 * D1 access for campaigns: the campaign rows, their recipients and fan-out pages, and the
 * segment members the fan-out reads. Counts are always derived from recipients and messages.
 */
import { and, asc, count, desc, eq, gt, inArray, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import {
  campaignPages,
  campaignRecipients,
  campaigns,
  messages,
  segmentMembers,
  type CampaignStatus,
  type MessageStatus,
  type RecipientOutcome,
} from "../db/schema";

export type CampaignRow = typeof campaigns.$inferSelect;
export type RecipientRow = typeof campaignRecipients.$inferInsert;

/**
 * Where every recipient stands; the figures add up to `total`. `queued` counts recipients whose
 * send job has no result yet; `sent`, `failed` and `suppressed` include the send results.
 */
export interface CampaignCounts {
  total: number;
  queued: number;
  entered: number;
  suppressed: number;
  skipped: number;
  failed: number;
  sent: number;
}

/** D1 binds at most 100 parameters per statement; a recipient row takes 6. */
const RECIPIENT_ROWS_PER_STATEMENT = 16;

export const campaignDb = (d1: D1Database) => drizzle(d1);

type Db = ReturnType<typeof campaignDb>;

export async function loadCampaign(db: Db, id: string): Promise<CampaignRow | null> {
  return (await db.select().from(campaigns).where(eq(campaigns.id, id)).get()) ?? null;
}

/**
 * Moves a campaign to `to` only from one of the `from` statuses, so that two racing writers
 * cannot both win; answers the updated row, or null when the campaign was elsewhere.
 */
export async function transition(
  db: Db,
  input: {
    id: string;
    from: CampaignStatus[];
    to: CampaignStatus;
    set?: Partial<typeof campaigns.$inferInsert>;
    nowMs: number;
  },
): Promise<CampaignRow | null> {
  const rows = await db
    .update(campaigns)
    .set({ ...input.set, status: input.to, updatedAtMs: input.nowMs })
    .where(and(eq(campaigns.id, input.id), inArray(campaigns.status, input.from)))
    .returning();
  return rows[0] ?? null;
}

/** Up to `limit` members of the segment after the cursor, in contact id order. */
export async function segmentPage(
  db: Db,
  input: { segmentId: string; afterContactId: string; limit: number },
): Promise<string[]> {
  const rows = await db
    .select({ contactId: segmentMembers.contactId })
    .from(segmentMembers)
    .where(
      and(
        eq(segmentMembers.segmentId, input.segmentId),
        gt(segmentMembers.contactId, input.afterContactId),
      ),
    )
    .orderBy(asc(segmentMembers.contactId))
    .limit(input.limit)
    .all();
  return rows.map((row) => row.contactId);
}

export async function segmentSize(d1: D1Database, segmentId: string): Promise<number> {
  const row = await campaignDb(d1)
    .select({ size: count() })
    .from(segmentMembers)
    .where(eq(segmentMembers.segmentId, segmentId))
    .get();
  return row?.size ?? 0;
}

/** Contacts of the campaign with a recipient row in `(afterContactId, lastContactId]`. */
export async function recipientsBetween(
  db: Db,
  input: { campaignId: string; afterContactId: string; lastContactId: string },
): Promise<Set<string>> {
  const rows = await db
    .select({ contactId: campaignRecipients.contactId })
    .from(campaignRecipients)
    .where(
      and(
        eq(campaignRecipients.campaignId, input.campaignId),
        gt(campaignRecipients.contactId, input.afterContactId),
        lte(campaignRecipients.contactId, input.lastContactId),
      ),
    )
    .all();
  return new Set(rows.map((row) => row.contactId));
}

/** Statements inserting recipients; an existing row wins, as the object kept its first outcome. */
export function insertRecipients(db: Db, rows: RecipientRow[]) {
  const statements = [];
  for (let i = 0; i < rows.length; i += RECIPIENT_ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + RECIPIENT_ROWS_PER_STATEMENT);
    statements.push(db.insert(campaignRecipients).values(chunk).onConflictDoNothing());
  }
  return statements;
}

export async function donePage(
  db: Db,
  input: { campaignId: string; afterContactId: string },
): Promise<typeof campaignPages.$inferSelect | null> {
  const row = await db
    .select()
    .from(campaignPages)
    .where(
      and(
        eq(campaignPages.campaignId, input.campaignId),
        eq(campaignPages.afterContactId, input.afterContactId),
      ),
    )
    .get();
  return row ?? null;
}

function emptyCounts(): CampaignCounts {
  return { total: 0, queued: 0, entered: 0, suppressed: 0, skipped: 0, failed: 0, sent: 0 };
}

/** Where a recipient stands, from the fan-out outcome and its message's status if it has one. */
function standing(
  outcome: RecipientOutcome,
  status: MessageStatus | null,
): Exclude<keyof CampaignCounts, "total"> {
  if (outcome !== "queued") return outcome;
  switch (status) {
    case "sent":
    case "failed":
    case "suppressed":
      return status;
    case "queued":
    case "sending":
    case null:
      return "queued";
  }
}

/** Recounts a campaign's recipients with their messages' statuses. */
export async function countRecipients(db: Db, campaignId: string): Promise<CampaignCounts> {
  const rows = await db
    .select({
      outcome: campaignRecipients.outcome,
      status: messages.status,
      count: count(),
    })
    .from(campaignRecipients)
    .leftJoin(messages, eq(messages.id, campaignRecipients.messageId))
    .where(eq(campaignRecipients.campaignId, campaignId))
    .groupBy(campaignRecipients.outcome, messages.status)
    .all();
  const counts = emptyCounts();
  for (const row of rows) {
    counts.total += row.count;
    counts[standing(row.outcome, row.status)] += row.count;
  }
  return counts;
}

export async function saveCounts(
  db: Db,
  input: { campaignId: string; counts: CampaignCounts; nowMs: number },
): Promise<void> {
  await db
    .update(campaigns)
    .set({ ...input.counts, updatedAtMs: input.nowMs })
    .where(eq(campaigns.id, input.campaignId));
}

/**
 * Gives up on recipients whose send job never reported a result (a message dead-lettered
 * after its last attempt), so that the campaign can account for everyone.
 */
export async function failUnsettledRecipients(
  db: Db,
  input: { campaignId: string; reason: string; nowMs: number },
): Promise<void> {
  await db
    .update(campaignRecipients)
    .set({ outcome: "failed", reason: input.reason, atMs: input.nowMs })
    .where(
      and(
        eq(campaignRecipients.campaignId, input.campaignId),
        eq(campaignRecipients.outcome, "queued"),
        sql`not exists (select 1 from ${messages} where ${messages.id} = ${campaignRecipients.messageId}
          and ${messages.status} in ('sent', 'failed', 'suppressed'))`,
      ),
    );
}

/** The most frequent reasons recipients were suppressed, skipped or failed. */
export async function recipientReasons(
  db: Db,
  campaignId: string,
): Promise<Array<{ outcome: RecipientOutcome; reason: string | null; count: number }>> {
  return db
    .select({
      outcome: campaignRecipients.outcome,
      reason: campaignRecipients.reason,
      count: count(),
    })
    .from(campaignRecipients)
    .where(
      and(
        eq(campaignRecipients.campaignId, campaignId),
        inArray(campaignRecipients.outcome, ["suppressed", "skipped", "failed"]),
      ),
    )
    .groupBy(campaignRecipients.outcome, campaignRecipients.reason)
    .orderBy(desc(count()))
    .limit(20)
    .all();
}

/** A page of a campaign's recipients in contact id order, with their messages' statuses. */
export async function listRecipients(
  db: Db,
  input: { campaignId: string; afterContactId: string; limit: number },
) {
  return db
    .select({
      contactId: campaignRecipients.contactId,
      outcome: campaignRecipients.outcome,
      reason: campaignRecipients.reason,
      messageId: campaignRecipients.messageId,
      messageStatus: messages.status,
      atMs: campaignRecipients.atMs,
    })
    .from(campaignRecipients)
    .leftJoin(messages, eq(messages.id, campaignRecipients.messageId))
    .where(
      and(
        eq(campaignRecipients.campaignId, input.campaignId),
        gt(campaignRecipients.contactId, input.afterContactId),
      ),
    )
    .orderBy(asc(campaignRecipients.contactId))
    .limit(input.limit)
    .all();
}

/** Scheduled campaigns whose time has come, earliest first. */
export async function dueCampaignIds(
  db: Db,
  input: { nowMs: number; limit: number },
): Promise<string[]> {
  const rows = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(and(eq(campaigns.status, "scheduled"), lte(campaigns.sendAtMs, input.nowMs)))
    .orderBy(asc(campaigns.sendAtMs))
    .limit(input.limit)
    .all();
  return rows.map((row) => row.id);
}
