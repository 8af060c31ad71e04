/**
 * Signed tracking tokens: what a pixel, a link or an unsubscribe URL refers to, with an HMAC so
 * that an altered or forged token is refused (and never turns into an open redirect).
 */

export type TokenKind = "open" | "click" | "unsubscribe" | "view";

export interface TrackingClaims {
  kind: TokenKind;
  contactId: string;
  messageId: string;
  /** The original link of a click token. */
  url?: string;
  /** The consent topic of an unsubscribe token. */
  topic?: string;
  channel?: string;
}

/** Truncated HMAC-SHA256: 128 bits are far beyond guessing and keep URLs short. */
const SIGNATURE_BYTES = 16;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keys.set(secret, key);
  }
  return key;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

async function signatureOf(secret: string, payload: string): Promise<Uint8Array> {
  const mac = await crypto.subtle.sign("HMAC", await keyFor(secret), encoder.encode(payload));
  return new Uint8Array(mac).slice(0, SIGNATURE_BYTES);
}

const KIND_CODES: Record<TokenKind, string> = {
  open: "o",
  click: "c",
  unsubscribe: "u",
  view: "v",
};

/** Signs claims into a URL-safe token. */
export async function signToken(secret: string, claims: TrackingClaims): Promise<string> {
  if (!secret) throw new Error("TRACKING_SECRET is not configured");
  const compact = {
    k: KIND_CODES[claims.kind],
    c: claims.contactId,
    m: claims.messageId,
    ...(claims.url ? { u: claims.url } : {}),
    ...(claims.topic ? { t: claims.topic } : {}),
    ...(claims.channel ? { h: claims.channel } : {}),
  };
  const payload = toBase64Url(encoder.encode(JSON.stringify(compact)));
  return `${payload}.${toBase64Url(await signatureOf(secret, payload))}`;
}

/** The claims of a token whose signature holds and whose kind is the expected one, else null. */
export async function verifyToken(
  secret: string,
  token: string,
  expected: TokenKind,
): Promise<TrackingClaims | null> {
  const [payload, signature, extra] = token.split(".");
  if (!secret || !payload || !signature || extra !== undefined) return null;
  // Compared as text: base64 ignores the spare bits of a last character, so decoding first
  // would accept several spellings of the same signature.
  const wanted = toBase64Url(await signatureOf(secret, payload));
  if (signature.length !== wanted.length) return null;
  let diff = 0;
  for (let i = 0; i < wanted.length; i++) diff |= signature.charCodeAt(i) ^ wanted.charCodeAt(i);
  if (diff !== 0) return null;

  const bytes = fromBase64Url(payload);
  if (!bytes) return null;
  let compact: Record<string, unknown>;
  try {
    compact = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (compact.k !== KIND_CODES[expected]) return null;
  if (typeof compact.c !== "string" || typeof compact.m !== "string") return null;
  return {
    kind: expected,
    contactId: compact.c,
    messageId: compact.m,
    url: typeof compact.u === "string" ? compact.u : undefined,
    topic: typeof compact.t === "string" ? compact.t : undefined,
    channel: typeof compact.h === "string" ? compact.h : undefined,
  };
}
