/**
 * The one shape every provider callback is turned into before it touches the database: the
 * route verifies and parses with the provider's module, then acts on these events only.
 */

export type DeliveryProvider = "postmark" | "resend" | "twilio";

export type DeliveryEventKind =
  "delivered" | "bounced" | "complained" | "opened" | "clicked" | "sms_inbound";

export type BounceSeverity = "hard" | "soft";

export interface DeliveryEvent {
  provider: DeliveryProvider;
  kind: DeliveryEventKind;
  /** Our message id, when the provider echoes the metadata we sent with the message. */
  messageId: string | null;
  /** The provider's own id, stored as `providerMessageId` in `messages` when we sent. */
  providerMessageId: string | null;
  /** Set on `bounced` only: a hard bounce suppresses at once, soft ones after a run of them. */
  bounce?: BounceSeverity;
  atMs: number;
  /** The address or number the message went to; for `sms_inbound`, our number. */
  recipient: string | null;
  userAgent?: string | null;
  ip?: string | null;
  url?: string | null;
  /** The provider itself says a machine caused this open or click. */
  machineHint?: boolean;
  /** The body of an inbound SMS. */
  text?: string;
  /** The sender of an inbound SMS. */
  from?: string;
}

/** A forged or unsigned request is a 401; a signed request we cannot read is a 400. */
export type ParseResult =
  { ok: true; events: DeliveryEvent[] } | { ok: false; status: 400 | 401; error: string };

export function unauthorized(error: string): ParseResult {
  return { ok: false, status: 401, error };
}

export function badRequest(error: string): ParseResult {
  return { ok: false, status: 400, error };
}

/** Names the first failing field and its rule, the way every 4xx body here does. */
export function describeIssue(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) {
  const first = issues[0];
  if (first === undefined) return "invalid payload";
  const path = first.path.map(String).join(".");
  return path === "" ? first.message : `${path}: ${first.message}`;
}

/** Epoch ms of an ISO 8601 time, or null when the provider sent something unreadable. */
export function parseTimeMs(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** Standard base64 to bytes; null for anything that is not base64. */
export function decodeBase64(text: string): Uint8Array | null {
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    return bytes;
  } catch {
    return null;
  }
}
