/**
 * The default provider: nothing leaves the Worker, each message is stored in D1 `outbox` exactly
 * as a real provider would have received it, for the dashboard and for tests.
 */
import { and, desc, eq, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { outbox } from "../db/schema";
import type { OutgoingMessage, Provider, SendResult } from "./provider";

export type OutboxEntry = typeof outbox.$inferSelect;

export function createOutboxProvider(input: { db: D1Database; now?: () => number }): Provider {
  const db = drizzle(input.db);
  const now = input.now ?? (() => Date.now());

  return {
    name: "outbox",
    async send(message: OutgoingMessage): Promise<SendResult> {
      try {
        // The id is the idempotency key: a repeated send leaves the first row as it was.
        await db
          .insert(outbox)
          .values({
            id: message.id,
            contactId: message.contactId,
            scenarioId: message.scenarioId,
            stepId: message.stepId,
            channel: message.channel,
            to: message.to,
            subject: message.subject,
            title: message.title,
            url: message.url,
            html: message.html,
            text: message.text,
            headers: message.headers,
            createdAt: now(),
          })
          .onConflictDoNothing({ target: outbox.id });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return { status: "retry", error: `outbox write failed: ${reason}` };
      }
      return { status: "sent", providerMessageId: `outbox:${message.id}` };
    },
  };
}

const MAX_LIST_LIMIT = 200;

export interface ListOutboxOptions {
  limit: number;
  contactId?: string;
  scenarioId?: string;
  /** Id of the last entry of the previous page; the page continues with older entries. */
  after?: string;
}

/** Stored messages, newest first, for `GET /api/outbox`. */
export async function listOutbox(
  database: D1Database,
  options: ListOutboxOptions,
): Promise<OutboxEntry[]> {
  const db = drizzle(database);
  const limit = Math.min(Math.max(Math.trunc(options.limit), 1), MAX_LIST_LIMIT);
  const filters: SQL[] = [];
  if (options.contactId !== undefined) filters.push(eq(outbox.contactId, options.contactId));
  if (options.scenarioId !== undefined) filters.push(eq(outbox.scenarioId, options.scenarioId));
  if (options.after !== undefined) {
    // Row-value comparison keeps the order total when several entries share a millisecond.
    filters.push(
      sql`(${outbox.createdAt}, ${outbox.id}) < (select created_at, id from outbox where id = ${options.after})`,
    );
  }

  return db
    .select()
    .from(outbox)
    .where(and(...filters))
    .orderBy(desc(outbox.createdAt), desc(outbox.id))
    .limit(limit);
}
