/**
 * Browser push through the Web Push protocol (RFC 8030): the payload is encrypted for the
 * subscriber's keys (RFC 8291, aes128gcm) and the request carries a VAPID token (RFC 8292), so
 * no push-service account is needed. The recipient is the JSON of a browser PushSubscription.
 */
import { buildPushPayload } from "@block65/webcrypto-web-push";
import { z } from "zod";
import {
  DEFAULT_TIMEOUT_MS,
  failureFromNetwork,
  failureFromResponse,
  type FetchLike,
  type OutgoingMessage,
  type Provider,
  type SendResult,
} from "./provider";

/** The application server's key pair, in base64url as `web-push generate-vapid-keys` prints it. */
export interface VapidConfig {
  /** A `mailto:` or `https:` URL the push service can use to reach the sender. */
  subject: string;
  /** The uncompressed P-256 point (65 bytes), the same key the browser subscribed with. */
  publicKey: string;
  /** The P-256 private scalar (32 bytes). */
  privateKey: string;
}

export interface WebPushOptions {
  vapid: VapidConfig;
  fetch?: FetchLike;
  timeoutMs?: number;
}

/** How long the push service keeps a message for an offline browser. */
export const PUSH_TTL_SECONDS = 86_400;

const P256_POINT_BYTES = 65;
const P256_SCALAR_BYTES = 32;
const AUTH_SECRET_BYTES = 16;

/** Checks the VAPID settings once, when a provider is chosen, and names the first one at fault. */
export function vapidProblem(vapid: VapidConfig): string | null {
  if (!/^(mailto:|https:\/\/)/.test(vapid.subject)) {
    return "VAPID_SUBJECT must be a mailto: or https: URL";
  }
  if (!isP256Point(decodeBase64Url(vapid.publicKey))) {
    return "VAPID_PUBLIC_KEY must be a base64url uncompressed P-256 public key (65 bytes)";
  }
  if (decodeBase64Url(vapid.privateKey)?.length !== P256_SCALAR_BYTES) {
    return "VAPID_PRIVATE_KEY must be a base64url P-256 private key (32 bytes)";
  }
  return null;
}

const subscriptionSchema = z.object({
  endpoint: z.url({ protocol: /^https$/, error: "must be an https URL" }),
  expirationTime: z.number().nullable().default(null),
  keys: z.object({
    p256dh: z.string().refine((value) => isP256Point(decodeBase64Url(value)), {
      error: "must be a base64url uncompressed P-256 public key",
    }),
    auth: z.string().refine((value) => decodeBase64Url(value)?.length === AUTH_SECRET_BYTES, {
      error: `must be a base64url secret of ${AUTH_SECRET_BYTES} bytes`,
    }),
  }),
});

type Subscription = z.infer<typeof subscriptionSchema>;

export function createWebPushProvider(options: WebPushOptions): Provider {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The `k=` parameter of the Authorization header must be base64url without padding.
  const vapid = { ...options.vapid, publicKey: normalizeBase64Url(options.vapid.publicKey) };

  return {
    name: "webpush",
    async send(message: OutgoingMessage): Promise<SendResult> {
      const subscription = parseSubscription(message.to);
      if (!subscription.ok) return { status: "failed", error: subscription.error };

      let request: Awaited<ReturnType<typeof buildPushPayload>>;
      try {
        request = await buildPushPayload(
          {
            data: { title: message.title, body: message.text, url: message.url, id: message.id },
            options: { ttl: PUSH_TTL_SECONDS, urgency: "normal" },
          },
          subscription.value,
          vapid,
        );
      } catch (error) {
        // Key material the service cannot use or a payload over the size limit: sending again
        // would fail the same way.
        const reason = error instanceof Error ? error.message : String(error);
        return { status: "failed", error: `webpush could not encrypt the message: ${reason}` };
      }

      // The runtime sets Content-Length from the body itself.
      const { "content-length": _contentLength, ...headers } = request.headers;
      let response: Response;
      try {
        response = await fetchFn(subscription.value.endpoint, {
          method: "POST",
          headers,
          body: request.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        return failureFromNetwork(error, "webpush");
      }

      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return {
          status: "failed",
          error: `webpush subscription is gone (${response.status}): the browser unsubscribed`,
        };
      }
      if (!response.ok) return failureFromResponse(response, "webpush");
      await response.body?.cancel();
      // RFC 8030 §5: the Location header names the push message resource.
      const location = response.headers.get("location");
      return { status: "sent", providerMessageId: location ?? `webpush:${message.id}` };
    },
  };
}

type ParsedSubscription = { ok: true; value: Subscription } | { ok: false; error: string };

function parseSubscription(to: string): ParsedSubscription {
  let json: unknown;
  try {
    json = JSON.parse(to);
  } catch {
    return { ok: false, error: "webpush recipient is not a PushSubscription: not JSON" };
  }
  const parsed = subscriptionSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "subscription";
    const rule = issue?.message ?? "invalid";
    return { ok: false, error: `webpush recipient is not a PushSubscription: ${field} ${rule}` };
  }
  return { ok: true, value: parsed.data };
}

function isP256Point(bytes: Uint8Array | null): boolean {
  return bytes?.length === P256_POINT_BYTES && bytes[0] === 0x04;
}

/** Accepts base64url or base64, padded or not; null for anything else. */
function decodeBase64Url(value: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return null;
  const base64 = value.replace(/=+$/, "").replaceAll("-", "+").replaceAll("_", "/");
  try {
    return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

function normalizeBase64Url(value: string): string {
  return value.replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
}
