import { desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import {
  campaignRecipients,
  contacts,
  engagements,
  messages,
  outbox,
  segmentMembers,
} from "../db/schema";
import { toFieldIssues } from "../engine/scenario";
import type { Env } from "../env";
import { badRequest, notFound, readJson } from "../http/errors";
import { contactStub } from "../../durable-objects/contact-stub";

const consentSchema = z.strictObject({
  topic: z.string().min(1).max(100),
  status: z.enum(["subscribed", "unsubscribed"]),
});

export const contactRoutes = new Hono<{ Bindings: Env }>();

const stubOf = contactStub;

async function contactMessages(env: Env, contactId: string) {
  return drizzle(env.DB)
    .select()
    .from(messages)
    .where(eq(messages.contactId, contactId))
    .orderBy(desc(messages.createdAt))
    .limit(200)
    .all();
}

contactRoutes.get("/", async (c) => {
  const rows = await drizzle(c.env.DB)
    .select()
    .from(contacts)
    .orderBy(desc(contacts.lastSeenAt))
    .limit(Math.min(Number(c.req.query("limit") ?? 50) || 50, 500))
    .all();
  const [total] = await drizzle(c.env.DB)
    .select({ n: sql<number>`count(*)` })
    .from(contacts)
    .all();
  return c.json({ total: total?.n ?? 0, contacts: rows });
});

contactRoutes.get("/:id", async (c) => {
  const contactId = c.req.param("id");
  const view = await stubOf(c.env, contactId).view();
  if (!view.profile) throw notFound(`contact "${contactId}"`);
  return c.json({
    id: contactId,
    traits: view.profile.traits,
    timezone: view.profile.contextTimeZone,
    firstSeenAt: view.profile.firstSeenMs,
    lastSeenAt: view.profile.lastSeenMs,
    consent: view.consent,
    runs: view.runs,
    schedule: view.schedule,
    messages: await contactMessages(c.env, contactId),
  });
});

contactRoutes.get("/:id/export", async (c) => {
  const contactId = c.req.param("id");
  const view = await stubOf(c.env, contactId).view();
  if (!view.profile) throw notFound(`contact "${contactId}"`);
  const delivered = await drizzle(c.env.DB)
    .select()
    .from(outbox)
    .where(eq(outbox.contactId, contactId))
    .all();
  return c.json({
    id: contactId,
    profile: view.profile,
    consent: view.consent,
    events: view.events,
    runs: view.runs,
    messages: await contactMessages(c.env, contactId),
    outbox: delivered,
  });
});

contactRoutes.post("/:id/consent", async (c) => {
  const parsed = consentSchema.safeParse(await readJson(c, 4096));
  if (!parsed.success) throw badRequest(toFieldIssues(parsed.error));
  await stubOf(c.env, c.req.param("id")).setConsent({ ...parsed.data, source: "api" });
  return c.json({ id: c.req.param("id"), ...parsed.data });
});

contactRoutes.delete("/:id", async (c) => {
  const contactId = c.req.param("id");
  await stubOf(c.env, contactId).erase();
  const db = drizzle(c.env.DB);
  await db.batch([
    db.delete(contacts).where(eq(contacts.id, contactId)),
    db.delete(messages).where(eq(messages.contactId, contactId)),
    db.delete(outbox).where(eq(outbox.contactId, contactId)),
    db.delete(engagements).where(eq(engagements.contactId, contactId)),
    db.delete(segmentMembers).where(eq(segmentMembers.contactId, contactId)),
    db.delete(campaignRecipients).where(eq(campaignRecipients.contactId, contactId)),
  ]);
  return c.json({ id: contactId, erased: true });
});
