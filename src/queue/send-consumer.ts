import { and, eq, lt, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { contactStub } from "../../durable-objects/contact-stub";
import { selectProvider, type FetchLike, type OutgoingMessage } from "../channels/provider";
import { messages, type MessageStatus } from "../db/schema";
import { DefinitionRepository } from "../definitions/repository";
import type { Channel } from "../engine/scenario";
import type { Env } from "../env";
import type { Logger } from "../shared/logger";
import type { CompiledTemplate } from "../templates/compile";
import { renderMessage } from "../templates/render";
import {
  trackHtml,
  trackText,
  unsubscribeUrl,
  viewUrl,
  type TrackedMessage,
  type TrackingConfig,
} from "../tracking/rewrite";
import type { SendJob } from "./jobs";

/**
 * A claim older than this is taken to belong to a consumer that died mid-send; the message may
 * then be claimed again. Resend, the outbox and webhooks get the message id as idempotency key
 * for that case; Postmark and Twilio take none.
 */
export const SEND_LEASE_MS = 5 * 60_000;

export type SendOutcome =
  { outcome: "done"; status: MessageStatus } | { outcome: "retry"; delayMs: number; error: string };

export interface SendDependencies {
  env: Env;
  logger: Logger;
  nowMs: () => number;
  fetch?: FetchLike;
}

/** Where tracking links point when `PUBLIC_URL` is not configured: the local engine. */
export const DEFAULT_PUBLIC_URL = "http://localhost:8787";

/**
 * Adds the open pixel and click tracking to an email, and an unsubscribe footer to a marketing
 * email whose template did not place `message.unsubscribe_url` itself.
 */
async function trackEmail(input: {
  rendered: { html: string | null; text: string | null };
  channel: Channel;
  tracking: TrackingConfig;
  tracked: TrackedMessage;
  unsubscribe: string | undefined;
}): Promise<{ html: string | null; text: string | null }> {
  const { rendered, channel, tracking, tracked, unsubscribe } = input;
  if (channel !== "email") return rendered;
  const keep = unsubscribe ? [unsubscribe] : [];
  keep.push(await viewUrl(tracking, tracked));
  let html = rendered.html;
  let text = rendered.text;
  if (unsubscribe && html !== null && !html.includes(unsubscribe)) {
    const style = "font-size:12px;color:#666;text-align:center";
    const footer = `<p style="${style}"><a href="${unsubscribe}">Unsubscribe</a></p>`;
    html = /<\/body>/i.test(html)
      ? html.replace(/<\/body>/i, `${footer}</body>`)
      : `${html}${footer}`;
  }
  if (unsubscribe && text !== null && !text.includes(unsubscribe)) {
    text = `${text}\n\nUnsubscribe: ${unsubscribe}`;
  }
  return {
    html:
      html === null ? null : await trackHtml({ html, config: tracking, message: tracked, keep }),
    text:
      text === null ? null : await trackText({ text, config: tracking, message: tracked, keep }),
  };
}

/** A browser PushSubscription kept as a trait, either as the object or as its JSON. */
function pushSubscriptionOf(value: unknown): string | null {
  if (typeof value === "string") return value === "" ? null : value;
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return null;
}

/** The address a channel delivers to, from the step or the contact's traits. */
function recipientOf(
  channel: Channel,
  job: SendJob,
  traits: Record<string, unknown>,
): string | null {
  const trait = (name: string) =>
    typeof traits[name] === "string" && traits[name] !== "" ? (traits[name] as string) : null;
  switch (channel) {
    case "email":
      return trait("email");
    case "sms":
      return trait("phone");
    case "push":
      return pushSubscriptionOf(traits.push_subscription) ?? trait("push_token");
    case "webhook":
      return job.to ?? trait("webhook_url");
    case "internal":
      return job.to;
  }
}

/**
 * Carries out one send job exactly once: records it, claims it, checks with the contact that it
 * is still wanted, renders, hands it to the provider and records the outcome. A repeated
 * delivery of the same job finds it already done and does nothing.
 */
export async function handleSendJob(job: SendJob, deps: SendDependencies): Promise<SendOutcome> {
  const { env, logger } = deps;
  const db = drizzle(env.DB);
  const nowMs = deps.nowMs();
  const ids = {
    messageId: job.messageId,
    contactId: job.contactId,
    scenarioId: job.scenarioId,
    stepId: job.stepId,
  };

  await db
    .insert(messages)
    .values({
      id: job.messageId,
      contactId: job.contactId,
      scenarioId: job.scenarioId,
      scenarioVersion: job.scenarioVersion,
      runId: job.runId,
      stepId: job.stepId,
      channel: job.channel,
      templateId: job.templateId,
      status: "queued",
      createdAt: job.createdAtMs,
    })
    .onConflictDoNothing({ target: messages.id });

  const finish = async (
    status: MessageStatus,
    fields: Partial<typeof messages.$inferInsert> = {},
  ) => {
    await db
      .update(messages)
      .set({ status, ...fields })
      .where(eq(messages.id, job.messageId));
    logger.info(`message:${status}`, { ...ids, error: fields.error });
    return { outcome: "done" as const, status };
  };

  if (job.suppressedReason) {
    const claimed = await db
      .update(messages)
      .set({ status: "suppressed", error: job.suppressedReason })
      .where(and(eq(messages.id, job.messageId), eq(messages.status, "queued")))
      .run();
    if (claimed.meta.changes > 0) logger.info("message:suppressed", ids);
    return { outcome: "done", status: "suppressed" };
  }

  const claim = await db
    .update(messages)
    .set({ status: "sending", claimedAt: nowMs })
    .where(
      and(
        eq(messages.id, job.messageId),
        or(
          eq(messages.status, "queued"),
          and(eq(messages.status, "sending"), lt(messages.claimedAt, nowMs - SEND_LEASE_MS)),
        ),
      ),
    )
    .run();
  if (claim.meta.changes === 0) {
    const row = await db
      .select({ status: messages.status })
      .from(messages)
      .where(eq(messages.id, job.messageId))
      .get();
    if (row?.status === "sending") {
      return { outcome: "retry", delayMs: SEND_LEASE_MS, error: "claimed by another delivery" };
    }
    logger.info("message:duplicate", ids);
    return { outcome: "done", status: row?.status ?? "sent" };
  }
  const row = await db
    .select({ attempts: messages.attempts })
    .from(messages)
    .where(eq(messages.id, job.messageId))
    .get();
  const attempts = (row?.attempts ?? 0) + 1;
  await db.update(messages).set({ attempts }).where(eq(messages.id, job.messageId));

  const authorization = await contactStub(env, job.contactId).authorizeSend({
    messageId: job.messageId,
    runId: job.runId,
    scenarioId: job.scenarioId,
    stepId: job.stepId,
    channel: job.channel,
    topic: job.topic,
    eventId: job.eventId,
  });
  if (!authorization.ok) return finish("suppressed", { error: authorization.reason });

  const version = await new DefinitionRepository(env.DB, "template").current(job.templateId);
  const template = version?.compiled as CompiledTemplate | null | undefined;
  if (!template)
    return finish("failed", { error: `template "${job.templateId}" is not published` });

  const traits = authorization.contact.traits;
  const tracking = { baseUrl: env.PUBLIC_URL ?? DEFAULT_PUBLIC_URL, secret: env.TRACKING_SECRET };
  const tracked = { contactId: job.contactId, messageId: job.messageId };
  const marketingEmail = job.channel === "email" && !job.transactional;
  const unsubscribe = marketingEmail
    ? await unsubscribeUrl(tracking, { ...tracked, topic: job.topic, channel: job.channel })
    : undefined;
  const rendered = await renderMessage({
    template,
    context: {
      contact: { ...traits, id: job.contactId },
      trigger: authorization.trigger,
      event: authorization.event,
      run: { id: job.runId, scenario_id: job.scenarioId, step_id: job.stepId },
      message: {
        unsubscribe_url: unsubscribe,
        view_url: job.channel === "email" ? await viewUrl(tracking, tracked) : undefined,
      },
    },
  });
  if (!rendered.ok) return finish("failed", { error: `render: ${rendered.error}` });
  const body = await trackEmail({ rendered, channel: job.channel, tracking, tracked, unsubscribe });

  const to = recipientOf(job.channel, job, traits);
  if (!to) return finish("failed", { error: `no ${job.channel} address for the contact` });

  const selected = selectProvider({
    channel: job.channel,
    env,
    db: env.DB,
    fetch: deps.fetch,
    now: deps.nowMs,
  });
  if (!selected.ok) return finish("failed", { error: selected.error });

  const outgoing: OutgoingMessage = {
    id: job.messageId,
    contactId: job.contactId,
    scenarioId: job.scenarioId,
    stepId: job.stepId,
    channel: job.channel,
    to,
    subject: rendered.subject,
    html: body.html,
    text: body.text,
    title: rendered.title,
    url: rendered.url,
    headers: unsubscribe
      ? {
          "List-Unsubscribe": `<${unsubscribe}>`,
          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
      : {},
  };
  const result = await selected.provider.send(outgoing);
  switch (result.status) {
    case "sent":
      return finish("sent", {
        provider: selected.provider.name,
        providerMessageId: result.providerMessageId,
        subject: rendered.subject,
        sentAt: deps.nowMs(),
        error: null,
      });
    case "failed":
      return finish("failed", { provider: selected.provider.name, error: result.error });
    case "retry":
      await db
        .update(messages)
        .set({ status: "queued", error: result.error })
        .where(eq(messages.id, job.messageId));
      logger.warn("message:retry", { ...ids, attempts, error: result.error });
      return {
        outcome: "retry",
        delayMs: result.retryAfterMs ?? Math.min(2 ** attempts * 1_000, 3_600_000),
        error: result.error,
      };
  }
}
