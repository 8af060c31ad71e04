/**
 * Twilio webhooks: inbound SMS and message status callbacks, both form-encoded. Twilio signs
 * the exact webhook URL followed by every POST parameter (sorted by name, name then value) with
 * HMAC-SHA1 under the account auth token, base64 in `X-Twilio-Signature`.
 */
import {
  badRequest,
  decodeBase64,
  unauthorized,
  type BounceSeverity,
  type DeliveryEvent,
  type ParseResult,
} from "./delivery-event";

/**
 * Error codes that say the number can never take our SMS: it does not exist, is a landline, is
 * not a mobile number, or its owner opted out at the carrier. Any other failure is soft.
 * 30003 (unreachable handset) stays soft: Twilio documents it as a phone that is off or out of
 * coverage, which a later send can reach.
 */
const PERMANENT_ERROR_CODES = new Set(["30005", "30006", "21610", "21211", "21614", "21635"]);

/** Checks `X-Twilio-Signature` against the URL Twilio called and the form it posted. */
export async function verifyTwilioSignature(input: {
  authToken: string;
  url: string;
  params: URLSearchParams;
  signature: string | null;
}): Promise<boolean> {
  if (input.authToken === "" || input.signature === null) return false;
  const signature = decodeBase64(input.signature);
  if (signature === null) return false;

  const sorted = [...input.params.entries()].sort(([leftKey, leftValue], [rightKey, rightValue]) =>
    leftKey === rightKey ? compare(leftValue, rightValue) : compare(leftKey, rightKey),
  );
  const signedContent = input.url + sorted.map(([key, value]) => key + value).join("");

  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(input.authToken),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["verify"],
  );
  // subtle.verify compares in constant time.
  return crypto.subtle.verify("HMAC", key, signature, new TextEncoder().encode(signedContent));
}

/**
 * Turns one Twilio form into events. Twilio sends no event time, so the caller passes the time
 * the request arrived.
 */
export function parseTwilioForm(params: URLSearchParams, receivedAtMs: number): ParseResult {
  const messageSid = params.get("MessageSid") ?? params.get("SmsSid");
  if (messageSid === null || messageSid === "") return badRequest("MessageSid: is required");
  // Inbound messages carry SmsStatus=received; status callbacks carry MessageStatus.
  const status = params.get("MessageStatus") ?? params.get("SmsStatus");

  if (status === "received" || (status === null && params.has("Body"))) {
    const from = params.get("From");
    if (from === null || from === "") return badRequest("From: is required");
    const event: DeliveryEvent = {
      provider: "twilio",
      kind: "sms_inbound",
      messageId: null,
      providerMessageId: messageSid,
      atMs: receivedAtMs,
      recipient: params.get("To"),
      text: params.get("Body") ?? "",
      from,
    };
    return { ok: true, events: [event] };
  }

  const base = {
    provider: "twilio" as const,
    messageId: null,
    providerMessageId: messageSid,
    atMs: receivedAtMs,
    recipient: params.get("To"),
  };
  switch (status) {
    case "delivered":
      return { ok: true, events: [{ ...base, kind: "delivered" }] };
    case "undelivered":
    case "failed":
      return {
        ok: true,
        events: [{ ...base, kind: "bounced", bounce: bounceSeverity(params.get("ErrorCode")) }],
      };
    case null:
      return badRequest("MessageStatus: is required");
    default:
      // queued, sending, sent, read and the like: progress, not an outcome.
      return { ok: true, events: [] };
  }
}

/** Verifies, then parses: the whole of what `POST /webhooks/twilio` needs. */
export async function readTwilioWebhook(input: {
  headers: Headers;
  /** The public URL Twilio called, query string included, exactly as configured in Twilio. */
  url: string;
  body: string;
  authToken: string;
  nowMs: number;
}): Promise<ParseResult> {
  const params = new URLSearchParams(input.body);
  const verified = await verifyTwilioSignature({
    authToken: input.authToken,
    url: input.url,
    params,
    signature: input.headers.get("X-Twilio-Signature"),
  });
  if (!verified) return unauthorized("x-twilio-signature: does not match the request");

  return parseTwilioForm(params, input.nowMs);
}

function bounceSeverity(errorCode: string | null): BounceSeverity {
  return errorCode !== null && PERMANENT_ERROR_CODES.has(errorCode) ? "hard" : "soft";
}

function compare(left: string, right: string): number {
  if (left === right) return 0;
  return left < right ? -1 : 1;
}
