import { eq, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { contactStub } from "../../durable-objects/contact-stub";
import { contacts, messages } from "../db/schema";
import type { Env } from "../env";
import { HttpError } from "../http/errors";
import type { Logger } from "../shared/logger";
import { loggerFor } from "../shared/logger";
import type { DeliveryEvent, ParseResult } from "../webhooks/delivery-event";
import { readPostmarkWebhook } from "../webhooks/postmark";
import { readResendWebhook } from "../webhooks/resend";
import { classifySmsReply } from "../webhooks/sms-keywords";
import { readTwilioWebhook } from "../webhooks/twilio";

type AppEnv = { Bindings: Env };

/** Verifies and parses a provider's callback with that provider's own rules. */
async function readWebhook(input: {
  provider: string;
  request: Request;
  body: string;
  env: Env;
}): Promise<ParseResult> {
  const { provider, request, body, env } = input;
  switch (provider) {
    case "postmark":
      return readPostmarkWebhook({
        headers: request.headers,
        body,
        credentials: {
          user: env.POSTMARK_WEBHOOK_USER ?? "",
          password: env.POSTMARK_WEBHOOK_PASSWORD ?? "",
        },
      });
    case "resend":
      return readResendWebhook({
        headers: request.headers,
        body,
        secret: env.RESEND_WEBHOOK_SECRET ?? "",
        nowMs: Date.now(),
      });
    case "twilio":
      return readTwilioWebhook({
        headers: request.headers,
        url: env.PUBLIC_URL ? `${env.PUBLIC_URL}${new URL(request.url).pathname}` : request.url,
        body,
        authToken: env.TWILIO_AUTH_TOKEN ?? "",
        nowMs: Date.now(),
      });
    default:
      throw new HttpError(404, "not_found", `no webhook for provider "${provider}"`);
  }
}

/** Our message behind a provider event: by the id we sent along, else by the provider's id. */
async function findMessage(env: Env, event: DeliveryEvent) {
  const conditions = [];
  if (event.messageId) conditions.push(eq(messages.id, event.messageId));
  if (event.providerMessageId)
    conditions.push(eq(messages.providerMessageId, event.providerMessageId));
  if (conditions.length === 0) return null;
  return (
    (await drizzle(env.DB)
      .select({ id: messages.id, contactId: messages.contactId })
      .from(messages)
      .where(or(...conditions))
      .get()) ?? null
  );
}

/** STOP ends SMS for the number (a suppression, as carriers require); START lifts it. */
async function handleSmsReply(env: Env, event: DeliveryEvent, logger: Logger): Promise<boolean> {
  const keyword = classifySmsReply(event.text ?? "");
  if (keyword !== "stop" && keyword !== "start") return false;
  const owners = await drizzle(env.DB)
    .select({ id: contacts.id })
    .from(contacts)
    .where(eq(contacts.phone, event.from ?? ""))
    .all();
  await Promise.all(
    owners.map((owner) =>
      contactStub(env, owner.id).setConsent({
        topic: "suppressed:sms",
        status: keyword === "stop" ? "unsubscribed" : "subscribed",
        source: `sms-${keyword}`,
      }),
    ),
  );
  logger.info(`consent:sms-${keyword}`, { contacts: owners.length });
  return owners.length > 0;
}

async function handleEvent(env: Env, event: DeliveryEvent, logger: Logger): Promise<boolean> {
  if (event.kind === "sms_inbound") return handleSmsReply(env, event, logger);
  const message = await findMessage(env, event);
  if (!message) {
    logger.warn("webhook:unknown-message", { provider: event.provider, kind: event.kind });
    return false;
  }
  const contact = contactStub(env, message.contactId);
  if (event.kind === "opened" || event.kind === "clicked") {
    await contact.recordEngagement({
      messageId: message.id,
      kind: event.kind,
      atMs: event.atMs,
      method: "GET",
      userAgent: event.userAgent ?? null,
      ip: event.ip ?? null,
      url: event.url ?? null,
      machineHint: event.machineHint === true,
      source: event.provider,
    });
    return true;
  }
  await contact.recordDelivery({
    messageId: message.id,
    kind: event.kind,
    bounce: event.bounce ?? null,
    atMs: event.atMs,
    source: event.provider,
  });
  return true;
}

export const webhookRoutes = new Hono<AppEnv>();

webhookRoutes.post("/:provider", async (c) => {
  const body = await c.req.text();
  const parsed = await readWebhook({
    provider: c.req.param("provider"),
    request: c.req.raw,
    body,
    env: c.env,
  });
  if (!parsed.ok) {
    throw new HttpError(
      parsed.status,
      parsed.status === 401 ? "unauthorized" : "invalid_request",
      parsed.error,
    );
  }
  const logger = loggerFor(c.env);
  let applied = 0;
  for (const event of parsed.events) {
    if (await handleEvent(c.env, event, logger)) applied += 1;
  }
  return c.json({ success: true, received: parsed.events.length, applied });
});
