/**
 * Resend webhooks, signed by Svix: HMAC-SHA256 over `${svix-id}.${svix-timestamp}.${body}` keyed
 * with the base64 part of the `whsec_` secret. We send our message id only as Resend's
 * Idempotency-Key, which webhooks do not echo, so events match on Resend's `email_id` unless
 * the email carried a `message_id` tag.
 */
import { z } from "zod";
import {
  badRequest,
  decodeBase64,
  describeIssue,
  parseTimeMs,
  unauthorized,
  type DeliveryEvent,
  type ParseResult,
} from "./delivery-event";

/** Svix rejects deliveries whose timestamp is further than this from now, either way. */
export const SVIX_TOLERANCE_MS = 5 * 60 * 1000;

const SECRET_PREFIX = "whsec_";

// The send API takes tags as [{ name, value }]; webhook payloads show them as an object.
const tags = z
  .union([
    z.record(z.string(), z.string()),
    z.array(z.object({ name: z.string(), value: z.string() })),
  ])
  .nullish();

const emailData = z.object({
  email_id: z.string(),
  to: z.array(z.string()).nullish(),
  tags,
});

const payloadSchema = z.object({
  type: z.string(),
  created_at: z.string(),
  data: z.unknown(),
});

const bounceData = emailData.extend({
  bounce: z.object({ type: z.string().nullish() }).nullish(),
});

const clickData = emailData.extend({
  click: z.object({
    link: z.string(),
    timestamp: z.string().nullish(),
    userAgent: z.string().nullish(),
    ipAddress: z.string().nullish(),
  }),
});

type EmailData = z.infer<typeof emailData>;

/** True when one of the `v1,` signatures in the header matches the body under the secret. */
export async function verifySvixSignature(input: {
  secret: string;
  id: string | null;
  timestamp: string | null;
  signature: string | null;
  body: string;
  nowMs: number;
}): Promise<{ ok: true } | { ok: false; error: string }> {
  if (input.id === null || input.timestamp === null || input.signature === null) {
    return { ok: false, error: "svix-id, svix-timestamp and svix-signature headers are required" };
  }
  const timestampSeconds = Number(input.timestamp);
  if (!/^\d+$/.test(input.timestamp) || !Number.isSafeInteger(timestampSeconds)) {
    return { ok: false, error: "svix-timestamp: must be seconds since the epoch" };
  }
  if (Math.abs(input.nowMs - timestampSeconds * 1000) > SVIX_TOLERANCE_MS) {
    return { ok: false, error: "svix-timestamp: more than 5 minutes from now" };
  }

  const keyBytes = decodeBase64(
    input.secret.startsWith(SECRET_PREFIX)
      ? input.secret.slice(SECRET_PREFIX.length)
      : input.secret,
  );
  if (keyBytes === null || keyBytes.length === 0) {
    return { ok: false, error: "webhook secret is not configured" };
  }
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const signedContent = new TextEncoder().encode(`${input.id}.${input.timestamp}.${input.body}`);

  // Several signatures appear while a secret is being rotated; any one of them may match.
  for (const entry of input.signature.split(" ")) {
    const [version, encoded] = entry.split(",", 2);
    if (version !== "v1" || encoded === undefined) continue;
    const signature = decodeBase64(encoded);
    if (signature === null) continue;
    // subtle.verify compares in constant time.
    if (await crypto.subtle.verify("HMAC", key, signature, signedContent)) return { ok: true };
  }
  return { ok: false, error: "svix-signature: no signature matches" };
}

/** Turns one Resend webhook body into events; event types we do not act on yield none. */
export function parseResendPayload(body: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return badRequest("body: must be JSON");
  }
  const envelope = payloadSchema.safeParse(json);
  if (!envelope.success) return badRequest(describeIssue(envelope.error.issues));
  const createdAtMs = parseTimeMs(envelope.data.created_at);
  if (createdAtMs === null) return badRequest("created_at: must be an ISO 8601 date");
  const { type, data } = envelope.data;

  switch (type) {
    case "email.delivered":
    case "email.complained":
    case "email.opened": {
      const parsed = emailData.safeParse(data);
      if (!parsed.success) return badRequest(`data.${describeIssue(parsed.error.issues)}`);
      const kind =
        type === "email.delivered"
          ? "delivered"
          : type === "email.complained"
            ? "complained"
            : "opened";
      return { ok: true, events: [{ ...base(parsed.data), kind, atMs: createdAtMs }] };
    }
    case "email.bounced": {
      const parsed = bounceData.safeParse(data);
      if (!parsed.success) return badRequest(`data.${describeIssue(parsed.error.issues)}`);
      // Resend sends email.bounced for permanent rejections; only an explicit Transient or
      // Undetermined type makes it soft.
      const bounceType = parsed.data.bounce?.type ?? "Permanent";
      const bounce = bounceType === "Permanent" ? "hard" : "soft";
      return {
        ok: true,
        events: [{ ...base(parsed.data), kind: "bounced", bounce, atMs: createdAtMs }],
      };
    }
    case "email.clicked": {
      const parsed = clickData.safeParse(data);
      if (!parsed.success) return badRequest(`data.${describeIssue(parsed.error.issues)}`);
      const { click } = parsed.data;
      const clickedAtMs = click.timestamp == null ? null : parseTimeMs(click.timestamp);
      const event: DeliveryEvent = {
        ...base(parsed.data),
        kind: "clicked",
        atMs: clickedAtMs ?? createdAtMs,
        userAgent: click.userAgent ?? null,
        ip: click.ipAddress ?? null,
        url: click.link,
      };
      return { ok: true, events: [event] };
    }
    default:
      return { ok: true, events: [] };
  }
}

/** Verifies, then parses: the whole of what `POST /webhooks/resend` needs. */
export async function readResendWebhook(input: {
  headers: Headers;
  body: string;
  secret: string;
  nowMs: number;
}): Promise<ParseResult> {
  const verified = await verifySvixSignature({
    secret: input.secret,
    id: input.headers.get("svix-id"),
    timestamp: input.headers.get("svix-timestamp"),
    signature: input.headers.get("svix-signature"),
    body: input.body,
    nowMs: input.nowMs,
  });
  if (!verified.ok) return unauthorized(verified.error);

  return parseResendPayload(input.body);
}

function base(data: EmailData) {
  return {
    provider: "resend" as const,
    messageId: messageIdTag(data.tags),
    providerMessageId: data.email_id,
    recipient: data.to?.[0] ?? null,
  };
}

function messageIdTag(value: EmailData["tags"]): string | null {
  if (value == null) return null;
  const tag = Array.isArray(value)
    ? value.find((entry) => entry.name === "message_id")?.value
    : value.message_id;
  return tag === undefined || tag === "" ? null : tag;
}
