/**
 * Webhook and internal messages to a URL: the message is POSTed as JSON with our message id as
 * Idempotency-Key, so the receiver can drop the repeats a retry may cause. With a signing secret
 * each request is signed as the Standard Webhooks specification describes (HMAC-SHA256, `v1`).
 */
import {
  DEFAULT_TIMEOUT_MS,
  failureFromNetwork,
  failureFromResponse,
  isHttpUrl,
  type FetchLike,
  type OutgoingMessage,
  type Provider,
  type SendResult,
} from "./provider";

export interface WebhookOptions {
  /** The HMAC key from `parseSigningSecret`; without it requests go out unsigned. */
  signingKey?: Uint8Array;
  fetch?: FetchLike;
  timeoutMs?: number;
  /** Epoch ms, for the `webhook-timestamp` header. */
  now?: () => number;
}

/** The specification asks for 24 to 64 random bytes. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const SECRET_PREFIX = "whsec_";
const SECRET_RULE = "must be whsec_ followed by the base64 of 24 to 64 random bytes";

export type ParsedSigningSecret = { ok: true; key: Uint8Array } | { ok: false; error: string };

/** Reads a `whsec_<base64>` secret (the prefix may be left out) into its HMAC key bytes. */
export function parseSigningSecret(secret: string): ParsedSigningSecret {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return { ok: false, error: SECRET_RULE };

  let key: Uint8Array;
  try {
    key = Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0));
  } catch {
    return { ok: false, error: SECRET_RULE };
  }
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    return { ok: false, error: SECRET_RULE };
  }
  return { ok: true, key };
}

export function createWebhookProvider(options: WebhookOptions = {}): Provider {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? (() => Date.now());
  const hmacKey = options.signingKey ? importHmacKey(options.signingKey) : null;

  return {
    name: "webhook",
    async send(message: OutgoingMessage): Promise<SendResult> {
      if (!isHttpUrl(message.to)) {
        return { status: "failed", error: "webhook needs an http(s) URL as recipient" };
      }
      const body = {
        id: message.id,
        contactId: message.contactId,
        scenarioId: message.scenarioId,
        stepId: message.stepId,
        channel: message.channel,
        subject: message.subject,
        html: message.html,
        text: message.text,
        title: message.title,
        url: message.url,
        headers: message.headers,
      };
      const payload = JSON.stringify(body);
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "Idempotency-Key": message.id,
        "User-Agent": "Parcours-Webhook/1",
      };
      if (hmacKey) {
        const timestampSeconds = Math.floor(now() / 1000);
        const signature = await signatureHeaders({
          key: await hmacKey,
          messageId: message.id,
          timestampSeconds,
          payload,
        });
        Object.assign(headers, signature);
      }

      let response: Response;
      try {
        response = await fetchFn(message.to, {
          method: "POST",
          headers,
          body: payload,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        return failureFromNetwork(error, "webhook");
      }
      if (!response.ok) return failureFromResponse(response, "webhook");

      // Only the status matters; the body is read so the connection can be reused.
      await response.body?.cancel();
      return { status: "sent", providerMessageId: `webhook:${message.id}` };
    },
  };
}

function importHmacKey(secret: Uint8Array): Promise<CryptoKey> {
  const algorithm = { name: "HMAC", hash: "SHA-256" };
  return crypto.subtle.importKey("raw", secret, algorithm, false, ["sign"]);
}

/** The three Standard Webhooks headers; the signature covers `${id}.${timestamp}.${payload}`. */
async function signatureHeaders(input: {
  key: CryptoKey;
  messageId: string;
  timestampSeconds: number;
  payload: string;
}): Promise<Record<string, string>> {
  const id = webhookId(input.messageId);
  const timestamp = String(input.timestampSeconds);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${input.payload}`);
  const signature = await crypto.subtle.sign("HMAC", input.key, signed);

  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${encodeBase64(new Uint8Array(signature))}`,
  };
}

/**
 * The message id, with `.` escaped: the signed content joins id, timestamp and body with dots,
 * so the specification forbids dots in the id. Ids without `.` or `%` are sent unchanged.
 */
export function webhookId(messageId: string): string {
  return messageId.replaceAll("%", "%25").replaceAll(".", "%2E");
}

function encodeBase64(bytes: Uint8Array): string {
  return btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(""));
}
