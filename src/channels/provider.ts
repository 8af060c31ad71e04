/**
 * The provider contract every channel sends through, the shared mapping of HTTP outcomes to
 * sent / retry / failed, and `selectProvider`, which reads the configuration once per send.
 */
import { z } from "zod";
import type { Channel } from "../engine/scenario";
import { createOutboxProvider } from "./outbox";
import { createPostmarkProvider } from "./postmark";
import { createResendProvider } from "./resend";
import { createTwilioProvider } from "./twilio";
import { createWebPushProvider, vapidProblem } from "./web-push";
import { createWebhookProvider, parseSigningSecret } from "./webhook";

/** A rendered message as a provider receives it. */
export interface OutgoingMessage {
  /** The message id, also the idempotency key wherever the provider accepts one. */
  id: string;
  contactId: string;
  scenarioId: string | null;
  stepId: string | null;
  channel: Channel;
  /** An email address, a phone number, a push token or a URL, depending on the channel. */
  to: string;
  from?: string;
  subject: string | null;
  html: string | null;
  text: string | null;
  title: string | null;
  url: string | null;
  /** Extra message headers, e.g. List-Unsubscribe. */
  headers: Record<string, string>;
}

export type SendResult =
  | { status: "sent"; providerMessageId: string }
  | { status: "retry"; error: string; retryAfterMs?: number }
  | { status: "failed"; error: string };

export interface Provider {
  name: string;
  send(message: OutgoingMessage): Promise<SendResult>;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** A provider call without an answer for this long counts as a network failure and is retried. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Maps a non-2xx answer: 429 and 5xx are worth retrying, any other 4xx will fail again. */
export async function failureFromResponse(
  response: Response,
  provider: string,
): Promise<SendResult> {
  const detail = await readErrorDetail(response);
  const error = `${provider} answered ${response.status}${detail ? `: ${detail}` : ""}`;

  if (response.status === 429 || response.status >= 500) {
    const retryAfterMs = parseRetryAfterMs(response.headers.get("retry-after"));
    return retryAfterMs === undefined
      ? { status: "retry", error }
      : { status: "retry", error, retryAfterMs };
  }
  return { status: "failed", error };
}

/** A request that never got an answer (DNS, reset, timeout) may succeed later. */
export function failureFromNetwork(error: unknown, provider: string): SendResult {
  const reason = error instanceof Error ? error.message : String(error);
  return { status: "retry", error: `${provider} unreachable: ${reason}` };
}

const MAX_ERROR_DETAIL_CHARS = 300;

/** The provider's own error text, cut short: it ends up on the message row. */
async function readErrorDetail(response: Response): Promise<string> {
  const body = await response.text().catch(() => "");
  if (body === "") return "";
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json === "object" && json !== null) {
      const record = json as Record<string, unknown>;
      const message = record.message ?? record.Message;
      if (typeof message === "string") return message.slice(0, MAX_ERROR_DETAIL_CHARS);
    }
  } catch {
    // Not JSON: the raw text is the best detail there is.
  }
  return body.slice(0, MAX_ERROR_DETAIL_CHARS);
}

/** Only the delta-seconds form; the HTTP-date form would need a clock here. */
function parseRetryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

const optionalSecret = z.string().min(1).optional();

/** The configuration a provider choice depends on; other bindings are ignored. */
const providerConfigSchema = z.object({
  EMAIL_PROVIDER: z.enum(["outbox", "postmark", "resend"]).default("outbox"),
  SMS_PROVIDER: z.enum(["outbox", "twilio"]).default("outbox"),
  PUSH_PROVIDER: z.enum(["outbox", "webpush"]).default("outbox"),
  WEBHOOK_PROVIDER: z.enum(["outbox", "http"]).default("outbox"),
  EMAIL_FROM: optionalSecret,
  POSTMARK_SERVER_TOKEN: optionalSecret,
  POSTMARK_MESSAGE_STREAM: optionalSecret,
  RESEND_API_KEY: optionalSecret,
  TWILIO_ACCOUNT_SID: optionalSecret,
  TWILIO_AUTH_TOKEN: optionalSecret,
  TWILIO_FROM: optionalSecret,
  VAPID_SUBJECT: optionalSecret,
  VAPID_PUBLIC_KEY: optionalSecret,
  VAPID_PRIVATE_KEY: optionalSecret,
  WEBHOOK_SIGNING_SECRET: optionalSecret,
});

type ProviderConfig = z.infer<typeof providerConfigSchema>;

export type SelectResult = { ok: true; provider: Provider } | { ok: false; error: string };

export interface SelectProviderInput {
  channel: Channel;
  /** The Worker's bindings; only the variables in providerConfigSchema are read. */
  env: object;
  db: D1Database;
  fetch?: FetchLike;
  now?: () => number;
}

/** Picks the provider configured for a channel, or says which setting is missing or wrong. */
export function selectProvider(input: SelectProviderInput): SelectResult {
  const parsed = providerConfigSchema.safeParse(input.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const setting = issue?.path.join(".") ?? "provider configuration";
    return { ok: false, error: `${setting}: ${issue?.message ?? "invalid"}` };
  }
  const config = parsed.data;
  const outbox = () => createOutboxProvider({ db: input.db, now: input.now });

  switch (input.channel) {
    case "email":
      return selectEmail(config, input, outbox);
    case "sms":
      return selectSms(config, input, outbox);
    case "push":
      return selectPush(config, input, outbox);
    case "webhook":
      return selectWebhook(config, input, outbox);
    case "internal":
      return selectInternal(config, input, outbox);
  }
}

type OutboxFactory = () => Provider;

function missing(provider: string, settings: string[]): SelectResult {
  return { ok: false, error: `${provider} needs ${settings.join(", ")} to be set` };
}

function selectEmail(
  config: ProviderConfig,
  input: SelectProviderInput,
  outbox: OutboxFactory,
): SelectResult {
  switch (config.EMAIL_PROVIDER) {
    case "outbox":
      return { ok: true, provider: outbox() };
    case "postmark": {
      const { POSTMARK_SERVER_TOKEN: serverToken, EMAIL_FROM: from } = config;
      if (!serverToken || !from)
        return missing("postmark", ["POSTMARK_SERVER_TOKEN", "EMAIL_FROM"]);
      return {
        ok: true,
        provider: createPostmarkProvider({
          serverToken,
          from,
          messageStream: config.POSTMARK_MESSAGE_STREAM,
          fetch: input.fetch,
        }),
      };
    }
    case "resend": {
      const { RESEND_API_KEY: apiKey, EMAIL_FROM: from } = config;
      if (!apiKey || !from) return missing("resend", ["RESEND_API_KEY", "EMAIL_FROM"]);
      return { ok: true, provider: createResendProvider({ apiKey, from, fetch: input.fetch }) };
    }
  }
}

function selectSms(
  config: ProviderConfig,
  input: SelectProviderInput,
  outbox: OutboxFactory,
): SelectResult {
  switch (config.SMS_PROVIDER) {
    case "outbox":
      return { ok: true, provider: outbox() };
    case "twilio": {
      const { TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken } = config;
      const from = config.TWILIO_FROM;
      if (!accountSid || !authToken || !from) {
        return missing("twilio", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"]);
      }
      return {
        ok: true,
        provider: createTwilioProvider({ accountSid, authToken, from, fetch: input.fetch }),
      };
    }
  }
}

const VAPID_SETTINGS = ["VAPID_SUBJECT", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"] as const;

function selectPush(
  config: ProviderConfig,
  input: SelectProviderInput,
  outbox: OutboxFactory,
): SelectResult {
  switch (config.PUSH_PROVIDER) {
    case "outbox":
      return { ok: true, provider: outbox() };
    case "webpush": {
      const { VAPID_SUBJECT: subject, VAPID_PUBLIC_KEY: publicKey } = config;
      const privateKey = config.VAPID_PRIVATE_KEY;
      if (!subject || !publicKey || !privateKey) {
        return missing(
          "webpush",
          VAPID_SETTINGS.filter((setting) => !config[setting]),
        );
      }
      const vapid = { subject, publicKey, privateKey };
      const problem = vapidProblem(vapid);
      if (problem !== null) return { ok: false, error: problem };
      return { ok: true, provider: createWebPushProvider({ vapid, fetch: input.fetch }) };
    }
  }
}

function selectWebhook(
  config: ProviderConfig,
  input: SelectProviderInput,
  outbox: OutboxFactory,
): SelectResult {
  switch (config.WEBHOOK_PROVIDER) {
    case "outbox":
      return { ok: true, provider: outbox() };
    case "http": {
      // Without WEBHOOK_SIGNING_SECRET the requests go out unsigned, as they always have.
      if (config.WEBHOOK_SIGNING_SECRET === undefined) {
        return { ok: true, provider: createWebhookProvider({ fetch: input.fetch }) };
      }
      const secret = parseSigningSecret(config.WEBHOOK_SIGNING_SECRET);
      if (!secret.ok) return { ok: false, error: `WEBHOOK_SIGNING_SECRET ${secret.error}` };
      return {
        ok: true,
        provider: createWebhookProvider({
          signingKey: secret.key,
          fetch: input.fetch,
          now: input.now,
        }),
      };
    }
  }
}

/**
 * An internal message goes to a team: a URL is called like a webhook, anything else is a
 * mailbox and goes through the email provider.
 */
function selectInternal(
  config: ProviderConfig,
  input: SelectProviderInput,
  outbox: OutboxFactory,
): SelectResult {
  const webhook = selectWebhook(config, input, outbox);
  if (!webhook.ok) return webhook;
  const email = selectEmail(config, input, outbox);
  if (!email.ok) return email;
  if (webhook.provider.name === "outbox" && email.provider.name === "outbox") return webhook;

  return {
    ok: true,
    provider: {
      name: `internal:${email.provider.name}+${webhook.provider.name}`,
      send(message) {
        const target = isHttpUrl(message.to) ? webhook.provider : email.provider;
        return target.send(message);
      },
    },
  };
}

export function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === "https:" || url.protocol === "http:";
}
