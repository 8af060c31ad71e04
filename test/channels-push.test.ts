import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { selectProvider, type FetchLike, type OutgoingMessage } from "../src/channels/provider";
import {
  createWebPushProvider,
  PUSH_TTL_SECONDS,
  type VapidConfig,
} from "../src/channels/web-push";
import { createWebhookProvider, parseSigningSecret } from "../src/channels/webhook";

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    id: `msg-${crypto.randomUUID()}`,
    contactId: `contact-${crypto.randomUUID()}`,
    scenarioId: "cart-reminder",
    stepId: "reminder",
    channel: "push",
    to: "",
    subject: null,
    html: null,
    text: "Your cart is waiting",
    title: "Still thinking?",
    url: "https://shop.example/cart",
    headers: {},
    ...overrides,
  };
}

interface RecordedRequest {
  url: string;
  method: string | undefined;
  headers: Headers;
  body: Uint8Array;
}

/** A fetch that records each request and answers with the given responses in turn. */
function fakeFetch(...responses: Array<Response | Error>): {
  fetch: FetchLike;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const fetch: FetchLike = async (url, init) => {
    const body =
      typeof init.body === "string"
        ? new TextEncoder().encode(init.body)
        : new Uint8Array(init.body as Uint8Array);
    requests.push({ url, method: init.method, headers: new Headers(init.headers), body });
    const next = responses.shift();
    if (next === undefined) throw new Error("unexpected extra request");
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, requests };
}

function base64UrlEncode(bytes: Uint8Array): string {
  const base64 = btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(""));
  return base64.replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
}

function base64Decode(value: string): Uint8Array {
  const base64 = value.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An application server key pair in the format `web-push generate-vapid-keys` prints. */
async function generateVapid(subject = "mailto:ops@parcours.test"): Promise<VapidConfig> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const publicKey = new Uint8Array(
    (await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer,
  );
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  return { subject, publicKey: base64UrlEncode(publicKey), privateKey: jwk.d ?? "" };
}

/** A browser's side of a subscription: the ECDH key pair and auth secret it keeps. */
async function generateSubscriber(endpoint: string) {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const publicKey = new Uint8Array(
    (await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer,
  );
  const auth = crypto.getRandomValues(new Uint8Array(16));
  const subscription = {
    endpoint,
    expirationTime: null,
    keys: { p256dh: base64UrlEncode(publicKey), auth: base64UrlEncode(auth) },
  };
  return { privateKey: pair.privateKey, publicKey, auth, subscription };
}

async function hkdf(input: {
  salt: Uint8Array;
  ikm: Uint8Array;
  info: Uint8Array;
  bytes: number;
}): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", input.ikm, "HKDF", false, ["deriveBits"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: input.salt, info: input.info };
  return new Uint8Array(await crypto.subtle.deriveBits(params, key, input.bytes * 8));
}

/** Decrypts an aes128gcm body the way a browser does (RFC 8291 §3, RFC 8188 §2). */
async function decryptPushBody(
  body: Uint8Array,
  subscriber: Awaited<ReturnType<typeof generateSubscriber>>,
): Promise<{ recordSize: number; plaintext: string }> {
  const salt = body.slice(0, 16);
  const recordSize = new DataView(body.buffer, body.byteOffset + 16, 4).getUint32(0);
  const keyIdLength = body[20] ?? 0;
  const senderPublicKey = body.slice(21, 21 + keyIdLength);
  const record = body.slice(21 + keyIdLength);
  expect(record.length).toBeLessThanOrEqual(recordSize);

  const senderKey = await crypto.subtle.importKey(
    "raw",
    senderPublicKey,
    { name: "ECDH", namedCurve: "P-256" },
    false,
    [],
  );
  // workers-types spell the member `$public`; the runtime, like WebCrypto, reads `public`.
  const ecdh = { name: "ECDH", public: senderKey } as unknown as SubtleCryptoDeriveKeyAlgorithm;
  const sharedSecret = new Uint8Array(
    await crypto.subtle.deriveBits(ecdh, subscriber.privateKey, 256),
  );
  const text = new TextEncoder();
  const keyInfo = concat(text.encode("WebPush: info\0"), subscriber.publicKey, senderPublicKey);
  const ikm = await hkdf({ salt: subscriber.auth, ikm: sharedSecret, info: keyInfo, bytes: 32 });
  const cekInfo = text.encode("Content-Encoding: aes128gcm\0");
  const cek = await hkdf({ salt, ikm, info: cekInfo, bytes: 16 });
  const nonce = await hkdf({
    salt,
    ikm,
    info: text.encode("Content-Encoding: nonce\0"),
    bytes: 12,
  });

  const aesKey = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const padded = new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, aesKey, record),
  );
  let delimiter = padded.length - 1;
  while (delimiter > 0 && padded[delimiter] === 0) delimiter--;
  // 0x02 marks the last (here the only) record.
  expect(padded[delimiter]).toBe(2);
  return { recordSize, plaintext: new TextDecoder().decode(padded.slice(0, delimiter)) };
}

/** Checks an ES256 JWT against the VAPID public key and returns its claims. */
async function verifyVapidJwt(
  token: string,
  publicKey: string,
): Promise<{ valid: boolean; header: unknown; claims: Record<string, unknown> }> {
  const [header = "", claims = "", signature = ""] = token.split(".");
  const key = await crypto.subtle.importKey(
    "raw",
    base64Decode(publicKey),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  const valid = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    base64Decode(signature),
    new TextEncoder().encode(`${header}.${claims}`),
  );
  const decode = (part: string) => JSON.parse(new TextDecoder().decode(base64Decode(part)));
  return { valid, header: decode(header), claims: decode(claims) };
}

describe("web push provider", () => {
  it("posts a message only the subscriber can read, with a VAPID token", async () => {
    const vapid = await generateVapid();
    const endpoint = `https://push.example.net/wpush/v2/${crypto.randomUUID()}`;
    const subscriber = await generateSubscriber(endpoint);
    const location = `https://push.example.net/m/${crypto.randomUUID()}`;
    const { fetch, requests } = fakeFetch(
      new Response(null, { status: 201, headers: { location } }),
    );
    const provider = createWebPushProvider({ vapid, fetch });
    const outgoing = message({ to: JSON.stringify(subscriber.subscription) });

    const startedAtSeconds = Math.floor(Date.now() / 1000);
    const result = await provider.send(outgoing);

    expect(result).toEqual({ status: "sent", providerMessageId: location });
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.url).toBe(endpoint);
    expect(request.method).toBe("POST");
    expect(request.headers.get("TTL")).toBe(String(PUSH_TTL_SECONDS));
    expect(request.headers.get("Urgency")).toBe("normal");
    expect(request.headers.get("Content-Encoding")).toBe("aes128gcm");

    const authorization = request.headers.get("Authorization") ?? "";
    const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(authorization);
    expect(match?.[2]).toBe(vapid.publicKey);
    const jwt = await verifyVapidJwt(match?.[1] ?? "", vapid.publicKey);
    expect(jwt.valid).toBe(true);
    expect(jwt.header).toMatchObject({ alg: "ES256" });
    expect(jwt.claims.aud).toBe("https://push.example.net");
    expect(jwt.claims.sub).toBe("mailto:ops@parcours.test");
    const expSeconds = Number(jwt.claims.exp);
    expect(expSeconds).toBeGreaterThan(startedAtSeconds);
    expect(expSeconds).toBeLessThanOrEqual(startedAtSeconds + 24 * 60 * 60);

    const decrypted = await decryptPushBody(request.body, subscriber);
    expect(decrypted.recordSize).toBe(4096);
    expect(JSON.parse(decrypted.plaintext)).toEqual({
      title: "Still thinking?",
      body: "Your cart is waiting",
      url: "https://shop.example/cart",
      id: outgoing.id,
    });
  });

  it("encrypts with authentication: a changed byte does not decrypt", async () => {
    const vapid = await generateVapid();
    const subscriber = await generateSubscriber(`https://push.example.net/${crypto.randomUUID()}`);
    const { fetch, requests } = fakeFetch(new Response(null, { status: 201 }));
    await createWebPushProvider({ vapid, fetch }).send(
      message({ to: JSON.stringify(subscriber.subscription) }),
    );
    const body = requests[0]!.body;
    body[body.length - 20]! ^= 1;

    await expect(decryptPushBody(body, subscriber)).rejects.toThrow();
  });

  it("maps push service answers to sent, failed (gone) and retry", async () => {
    const vapid = await generateVapid();
    const subscriber = await generateSubscriber(`https://push.example.net/${crypto.randomUUID()}`);
    const { fetch } = fakeFetch(
      new Response(null, { status: 202 }),
      new Response("", { status: 404 }),
      new Response("", { status: 410 }),
      new Response("slow down", { status: 429, headers: { "Retry-After": "30" } }),
      new Response("unavailable", { status: 503 }),
      new Response("bad token", { status: 403 }),
      new Response("too big", { status: 413 }),
      new TypeError("network connection lost"),
    );
    const provider = createWebPushProvider({ vapid, fetch });
    const outgoing = message({ to: JSON.stringify(subscriber.subscription) });

    const results = [];
    for (let attempt = 0; attempt < 8; attempt++) results.push(await provider.send(outgoing));

    expect(results).toEqual([
      { status: "sent", providerMessageId: `webpush:${outgoing.id}` },
      {
        status: "failed",
        error: "webpush subscription is gone (404): the browser unsubscribed",
      },
      {
        status: "failed",
        error: "webpush subscription is gone (410): the browser unsubscribed",
      },
      { status: "retry", error: "webpush answered 429: slow down", retryAfterMs: 30_000 },
      { status: "retry", error: "webpush answered 503: unavailable" },
      { status: "failed", error: "webpush answered 403: bad token" },
      { status: "failed", error: "webpush answered 413: too big" },
      { status: "retry", error: "webpush unreachable: network connection lost" },
    ]);
  });

  it("fails without a request when the recipient is not a usable subscription", async () => {
    const vapid = await generateVapid();
    const subscriber = await generateSubscriber(`https://push.example.net/${crypto.randomUUID()}`);
    const valid = subscriber.subscription;
    const { fetch, requests } = fakeFetch();
    const provider = createWebPushProvider({ vapid, fetch });
    const recipients = [
      "fcm-token-123",
      JSON.stringify({ endpoint: valid.endpoint }),
      JSON.stringify({ ...valid, endpoint: "http://push.example.net/plain" }),
      JSON.stringify({
        ...valid,
        keys: { ...valid.keys, auth: base64UrlEncode(new Uint8Array(8)) },
      }),
      JSON.stringify({ ...valid, keys: { ...valid.keys, p256dh: "not a key" } }),
    ];

    const results = [];
    for (const to of recipients) results.push(await provider.send(message({ to })));
    const notASubscription = "webpush recipient is not a PushSubscription:";

    expect(requests).toHaveLength(0);
    expect(results).toEqual([
      { status: "failed", error: `${notASubscription} not JSON` },
      {
        status: "failed",
        error: expect.stringMatching(/^webpush recipient is not a PushSubscription: keys /),
      },
      {
        status: "failed",
        error: `${notASubscription} endpoint must be an https URL`,
      },
      {
        status: "failed",
        error: `${notASubscription} keys.auth must be a base64url secret of 16 bytes`,
      },
      {
        status: "failed",
        error: `${notASubscription} keys.p256dh must be a base64url uncompressed P-256 public key`,
      },
    ]);
  });

  it("fails without a request when the payload is over the push size limit", async () => {
    const vapid = await generateVapid();
    const subscriber = await generateSubscriber(`https://push.example.net/${crypto.randomUUID()}`);
    const { fetch, requests } = fakeFetch();
    const provider = createWebPushProvider({ vapid, fetch });

    const result = await provider.send(
      message({ to: JSON.stringify(subscriber.subscription), text: "x".repeat(5000) }),
    );

    expect(requests).toHaveLength(0);
    expect(result).toEqual({
      status: "failed",
      error: expect.stringMatching(/^webpush could not encrypt the message: Payload is \d+ bytes/),
    });
  });
});

describe("push provider selection", () => {
  it("names the VAPID settings that are missing", () => {
    const none = selectProvider({ channel: "push", env: { PUSH_PROVIDER: "webpush" }, db: env.DB });
    const some = selectProvider({
      channel: "push",
      env: { PUSH_PROVIDER: "webpush", VAPID_SUBJECT: "mailto:ops@parcours.test" },
      db: env.DB,
    });

    expect(none).toEqual({
      ok: false,
      error: "webpush needs VAPID_SUBJECT, VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY to be set",
    });
    expect(some).toEqual({
      ok: false,
      error: "webpush needs VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY to be set",
    });
  });

  it("rejects VAPID settings in the wrong format and selects web push with good ones", async () => {
    const vapid = await generateVapid();
    const settings = {
      PUSH_PROVIDER: "webpush",
      VAPID_SUBJECT: vapid.subject,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
    };
    const select = (overrides: Record<string, string>) =>
      selectProvider({ channel: "push", env: { ...settings, ...overrides }, db: env.DB });

    expect(select({ VAPID_SUBJECT: "ops@parcours.test" })).toEqual({
      ok: false,
      error: "VAPID_SUBJECT must be a mailto: or https: URL",
    });
    expect(select({ VAPID_PUBLIC_KEY: vapid.privateKey })).toEqual({
      ok: false,
      error: "VAPID_PUBLIC_KEY must be a base64url uncompressed P-256 public key (65 bytes)",
    });
    expect(select({ VAPID_PRIVATE_KEY: vapid.publicKey })).toEqual({
      ok: false,
      error: "VAPID_PRIVATE_KEY must be a base64url P-256 private key (32 bytes)",
    });
    const selected = select({});
    expect(selected.ok && selected.provider.name).toBe("webpush");
    const outbox = selectProvider({ channel: "push", env: {}, db: env.DB });
    expect(outbox.ok && outbox.provider.name).toBe("outbox");
  });
});

/** A receiver's check, following the Standard Webhooks specification step by step. */
async function verifyStandardWebhook(input: {
  secret: string;
  headers: Headers;
  body: string;
}): Promise<boolean> {
  const id = input.headers.get("webhook-id");
  const timestamp = input.headers.get("webhook-timestamp");
  const signatures = input.headers.get("webhook-signature");
  if (id === null || timestamp === null || signatures === null) return false;

  const keyBytes = base64Decode(input.secret.replace(/^whsec_/, ""));
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${input.body}`);
  for (const entry of signatures.split(" ")) {
    const [version, signature] = entry.split(",");
    if (version !== "v1" || signature === undefined) continue;
    // crypto.subtle.verify compares in constant time, as the specification asks.
    if (await crypto.subtle.verify("HMAC", key, base64Decode(signature), signed)) return true;
  }
  return false;
}

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

describe("webhook signing", () => {
  const nowMs = 1_700_000_000_123;

  it("signs id, timestamp and body so the receiver can verify them", async () => {
    const secret = newSecret();
    const parsed = parseSigningSecret(secret);
    if (!parsed.ok) throw new Error(parsed.error);
    const { fetch, requests } = fakeFetch(new Response("ok", { status: 200 }));
    const provider = createWebhookProvider({ signingKey: parsed.key, fetch, now: () => nowMs });
    const outgoing = message({ channel: "webhook", to: "https://hooks.example.com/parcours" });

    const result = await provider.send(outgoing);

    expect(result).toEqual({ status: "sent", providerMessageId: `webhook:${outgoing.id}` });
    const request = requests[0]!;
    const body = new TextDecoder().decode(request.body);
    expect(request.headers.get("webhook-id")).toBe(outgoing.id);
    expect(request.headers.get("webhook-timestamp")).toBe("1700000000");
    expect(request.headers.get("webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(request.headers.get("Idempotency-Key")).toBe(outgoing.id);
    expect(JSON.parse(body)).toMatchObject({ id: outgoing.id, text: "Your cart is waiting" });
    expect(await verifyStandardWebhook({ secret, headers: request.headers, body })).toBe(true);

    const changedBody = body.replace("Your cart is waiting", "Your cart is gone");
    const laterHeaders = new Headers(request.headers);
    laterHeaders.set("webhook-timestamp", "1700000001");
    expect(
      await verifyStandardWebhook({ secret, headers: request.headers, body: changedBody }),
    ).toBe(false);
    expect(await verifyStandardWebhook({ secret, headers: laterHeaders, body })).toBe(false);
    expect(
      await verifyStandardWebhook({ secret: newSecret(), headers: request.headers, body }),
    ).toBe(false);
  });

  it("escapes dots in the webhook id, which the signed content uses as separator", async () => {
    const secret = newSecret();
    const parsed = parseSigningSecret(secret);
    if (!parsed.ok) throw new Error(parsed.error);
    const { fetch, requests } = fakeFetch(new Response(null, { status: 204 }));
    const provider = createWebhookProvider({ signingKey: parsed.key, fetch, now: () => nowMs });
    const id = `ada.lovelace@example.com:${crypto.randomUUID()}/reminder/1`;

    await provider.send(message({ id, channel: "webhook", to: "https://hooks.example.com/p" }));

    const request = requests[0]!;
    const body = new TextDecoder().decode(request.body);
    expect(request.headers.get("webhook-id")).toBe(id.replaceAll(".", "%2E"));
    expect(await verifyStandardWebhook({ secret, headers: request.headers, body })).toBe(true);
  });

  it("sends unsigned when no secret is configured", async () => {
    const { fetch, requests } = fakeFetch(new Response("ok", { status: 200 }));
    const selected = selectProvider({
      channel: "webhook",
      env: { WEBHOOK_PROVIDER: "http" },
      db: env.DB,
      fetch,
    });
    if (!selected.ok) throw new Error(selected.error);

    await selected.provider.send(
      message({ channel: "webhook", to: "https://hooks.example.com/p" }),
    );

    expect(requests[0]!.headers.get("webhook-signature")).toBeNull();
    expect(requests[0]!.headers.get("webhook-id")).toBeNull();
  });

  it("signs through selectProvider and rejects a malformed secret", async () => {
    const secret = newSecret();
    const { fetch, requests } = fakeFetch(new Response("ok", { status: 200 }));
    const select = (signingSecret: string) =>
      selectProvider({
        channel: "webhook",
        env: { WEBHOOK_PROVIDER: "http", WEBHOOK_SIGNING_SECRET: signingSecret },
        db: env.DB,
        fetch,
        now: () => nowMs,
      });

    const selected = select(secret);
    if (!selected.ok) throw new Error(selected.error);
    await selected.provider.send(
      message({ channel: "webhook", to: "https://hooks.example.com/p" }),
    );
    const body = new TextDecoder().decode(requests[0]!.body);

    expect(await verifyStandardWebhook({ secret, headers: requests[0]!.headers, body })).toBe(true);
    const rule = "must be whsec_ followed by the base64 of 24 to 64 random bytes";
    expect(select("whsec_c2hvcnQ=")).toEqual({
      ok: false,
      error: `WEBHOOK_SIGNING_SECRET ${rule}`,
    });
    expect(select("whsec_not base64!")).toEqual({
      ok: false,
      error: `WEBHOOK_SIGNING_SECRET ${rule}`,
    });
  });
});
