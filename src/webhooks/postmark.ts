/**
 * Postmark webhooks. Postmark signs nothing: the webhook URL carries HTTP Basic credentials
 * (`https://user:password@host/webhooks/postmark`), so the check is a constant-time comparison
 * of the Authorization header. Our message id comes back in `Metadata.message_id`.
 */
import { z } from "zod";
import {
  badRequest,
  describeIssue,
  parseTimeMs,
  unauthorized,
  type BounceSeverity,
  type DeliveryEvent,
  type ParseResult,
} from "./delivery-event";

export interface PostmarkWebhookCredentials {
  user: string;
  password: string;
}

/**
 * How each Postmark bounce `Type` counts. "ignore" marks records that are not delivery failures
 * (auto-replies, challenge mails, subscribe requests) or failures on our side of the wire.
 */
const BOUNCE_TYPES = new Map<string, BounceSeverity | "ignore">([
  ["HardBounce", "hard"],
  ["BadEmailAddress", "hard"],
  ["ManuallyDeactivated", "hard"],
  ["SoftBounce", "soft"],
  ["Transient", "soft"],
  ["DnsError", "soft"],
  ["Blocked", "soft"],
  ["SpamNotification", "soft"],
  ["DMARCPolicy", "soft"],
  ["VirusNotification", "soft"],
  ["Unknown", "soft"],
  ["AutoResponder", "ignore"],
  ["AddressChange", "ignore"],
  ["ChallengeVerification", "ignore"],
  ["OpenRelayTest", "ignore"],
  ["Subscribe", "ignore"],
  ["Unsubscribe", "ignore"],
  ["Unconfirmed", "ignore"],
  ["SMTPApiError", "ignore"],
  ["InboundError", "ignore"],
  ["TemplateRenderingFailed", "ignore"],
]);

const metadata = z.record(z.string(), z.unknown()).nullish();
const geo = z.object({ IP: z.string().nullish() }).nullish();

const payloadSchema = z.discriminatedUnion("RecordType", [
  z.object({
    RecordType: z.literal("Delivery"),
    MessageID: z.string(),
    Recipient: z.string().nullish(),
    DeliveredAt: z.string(),
    Metadata: metadata,
  }),
  z.object({
    RecordType: z.literal("Bounce"),
    Type: z.string(),
    MessageID: z.string(),
    Email: z.string().nullish(),
    BouncedAt: z.string(),
    Metadata: metadata,
  }),
  z.object({
    RecordType: z.literal("SpamComplaint"),
    MessageID: z.string(),
    Email: z.string().nullish(),
    BouncedAt: z.string(),
    Metadata: metadata,
  }),
  z.object({
    RecordType: z.literal("Open"),
    MessageID: z.string(),
    Recipient: z.string().nullish(),
    ReceivedAt: z.string(),
    UserAgent: z.string().nullish(),
    Geo: geo,
    Metadata: metadata,
  }),
  z.object({
    RecordType: z.literal("Click"),
    MessageID: z.string(),
    Recipient: z.string().nullish(),
    ReceivedAt: z.string(),
    UserAgent: z.string().nullish(),
    OriginalLink: z.string(),
    Geo: geo,
    Metadata: metadata,
  }),
]);

type PostmarkPayload = z.infer<typeof payloadSchema>;

/** Checks the Basic credentials Postmark was given in the webhook URL. */
export async function verifyPostmarkAuthorization(
  authorization: string | null,
  credentials: PostmarkWebhookCredentials,
): Promise<boolean> {
  if (credentials.user === "" || credentials.password === "") return false;
  const match = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (match?.[1] === undefined) return false;

  let presented: string;
  try {
    presented = atob(match[1]);
  } catch {
    return false;
  }
  return constantTimeEqual(presented, `${credentials.user}:${credentials.password}`);
}

/** Turns one Postmark webhook body into events; unknown record types yield none. */
export function parsePostmarkPayload(body: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return badRequest("body: must be JSON");
  }
  const recordType = (json as { RecordType?: unknown } | null)?.RecordType;
  // SubscriptionChange and any record type added later are acknowledged, not acted on.
  if (typeof recordType === "string" && !KNOWN_RECORD_TYPES.has(recordType)) {
    return { ok: true, events: [] };
  }

  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) return badRequest(describeIssue(parsed.error.issues));
  const event = toEvent(parsed.data);
  if (event === "unreadable-time") return badRequest("timestamp: must be an ISO 8601 date");
  return { ok: true, events: event === null ? [] : [event] };
}

/** Verifies, then parses: the whole of what `POST /webhooks/postmark` needs. */
export async function readPostmarkWebhook(input: {
  headers: Headers;
  body: string;
  credentials: PostmarkWebhookCredentials;
}): Promise<ParseResult> {
  const authorized = await verifyPostmarkAuthorization(
    input.headers.get("Authorization"),
    input.credentials,
  );
  if (!authorized) return unauthorized("authorization: Basic credentials do not match");

  return parsePostmarkPayload(input.body);
}

const KNOWN_RECORD_TYPES = new Set(["Delivery", "Bounce", "SpamComplaint", "Open", "Click"]);

function toEvent(payload: PostmarkPayload): DeliveryEvent | null | "unreadable-time" {
  const base = {
    provider: "postmark" as const,
    messageId: ourMessageId(payload.Metadata),
    providerMessageId: payload.MessageID,
  };

  switch (payload.RecordType) {
    case "Delivery": {
      const atMs = parseTimeMs(payload.DeliveredAt);
      if (atMs === null) return "unreadable-time";
      return { ...base, kind: "delivered", atMs, recipient: payload.Recipient ?? null };
    }
    case "Bounce": {
      const atMs = parseTimeMs(payload.BouncedAt);
      if (atMs === null) return "unreadable-time";
      const recipient = payload.Email ?? null;
      // A complaint can arrive on the bounce hook too; it counts as a complaint either way.
      if (payload.Type === "SpamComplaint") return { ...base, kind: "complained", atMs, recipient };
      // A type Postmark adds later counts as soft: it joins a run of bounces and never
      // suppresses alone.
      const severity = BOUNCE_TYPES.get(payload.Type) ?? "soft";
      if (severity === "ignore") return null;
      return { ...base, kind: "bounced", bounce: severity, atMs, recipient };
    }
    case "SpamComplaint": {
      const atMs = parseTimeMs(payload.BouncedAt);
      if (atMs === null) return "unreadable-time";
      return { ...base, kind: "complained", atMs, recipient: payload.Email ?? null };
    }
    case "Open":
    case "Click": {
      const atMs = parseTimeMs(payload.ReceivedAt);
      if (atMs === null) return "unreadable-time";
      return {
        ...base,
        kind: payload.RecordType === "Open" ? "opened" : "clicked",
        atMs,
        recipient: payload.Recipient ?? null,
        userAgent: payload.UserAgent ?? null,
        ip: payload.Geo?.IP ?? null,
        url: payload.RecordType === "Click" ? payload.OriginalLink : null,
      };
    }
  }
}

function ourMessageId(meta: Record<string, unknown> | null | undefined): string | null {
  const value = meta?.message_id;
  return typeof value === "string" && value !== "" ? value : null;
}

/** Compares digests, so neither the length nor the first differing byte leaks through timing. */
async function constantTimeEqual(left: string, right: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [leftDigest, rightDigest] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(left)),
    crypto.subtle.digest("SHA-256", encoder.encode(right)),
  ]);
  const a = new Uint8Array(leftDigest);
  const b = new Uint8Array(rightDigest);
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= (a[index] ?? 0) ^ (b[index] ?? 0);
  return difference === 0;
}
