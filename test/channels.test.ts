import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createOutboxProvider, listOutbox } from "../src/channels/outbox";
import { createPostmarkProvider } from "../src/channels/postmark";
import {
  selectProvider,
  type FetchLike,
  type OutgoingMessage,
  type Provider,
} from "../src/channels/provider";
import { createResendProvider } from "../src/channels/resend";
import { createTwilioProvider } from "../src/channels/twilio";
import { createWebhookProvider } from "../src/channels/webhook";

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    id: `msg-${crypto.randomUUID()}`,
    contactId: `contact-${crypto.randomUUID()}`,
    scenarioId: "cart-reminder",
    stepId: "reminder",
    channel: "email",
    to: "ada@example.com",
    subject: "Your cart is waiting",
    html: "<p>Hi Ada</p>",
    text: "Hi Ada",
    title: null,
    url: null,
    headers: { "List-Unsubscribe": "<https://example.com/u/abc>" },
    ...overrides,
  };
}

interface RecordedRequest {
  url: string;
  method: string | undefined;
  headers: Record<string, string>;
  body: string;
}

/** A fetch that records each request and answers with the given responses in turn. */
function fakeFetch(...responses: Array<Response | Error>): {
  fetch: FetchLike;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const fetch: FetchLike = async (url, init) => {
    requests.push({
      url,
      method: init.method,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: String(init.body),
    });
    const next = responses.shift();
    if (next === undefined) throw new Error("unexpected extra request");
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, requests };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** Sends a message through each answer in turn: success, a 4xx, 429, 500, a network error. */
async function outcomes(input: {
  create: (fetch: FetchLike) => Provider;
  sent: Response;
  failed: Response;
  message?: Partial<OutgoingMessage>;
}): Promise<unknown[]> {
  const { fetch } = fakeFetch(
    input.sent,
    input.failed,
    json(429, { message: "slow down" }, { "Retry-After": "30" }),
    json(500, { message: "oops" }),
    new TypeError("network connection lost"),
  );
  const provider = input.create(fetch);
  const results = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    results.push(await provider.send(message(input.message)));
  }
  return results;
}

describe("outbox provider", () => {
  it("stores a message once even when it is sent twice", async () => {
    let nowMs = 1_700_000_000_000;
    const provider = createOutboxProvider({ db: env.DB, now: () => nowMs });
    const outgoing = message();

    const first = await provider.send(outgoing);
    nowMs += 1000;
    const second = await provider.send({ ...outgoing, subject: "changed" });
    const stored = await listOutbox(env.DB, { limit: 10, contactId: outgoing.contactId });

    expect(first).toEqual({ status: "sent", providerMessageId: `outbox:${outgoing.id}` });
    expect(second).toEqual(first);
    expect(stored).toEqual([
      {
        id: outgoing.id,
        contactId: outgoing.contactId,
        scenarioId: "cart-reminder",
        stepId: "reminder",
        channel: "email",
        to: "ada@example.com",
        subject: "Your cart is waiting",
        title: null,
        url: null,
        html: "<p>Hi Ada</p>",
        text: "Hi Ada",
        headers: { "List-Unsubscribe": "<https://example.com/u/abc>" },
        createdAt: 1_700_000_000_000,
      },
    ]);
  });

  it("lists newest first, filters by contact and scenario, and pages with after", async () => {
    const contactId = `contact-${crypto.randomUUID()}`;
    let nowMs = 1_800_000_000_000;
    const provider = createOutboxProvider({ db: env.DB, now: () => nowMs });
    const ids: string[] = [];
    for (const scenarioId of ["a", "b", "a"]) {
      const outgoing = message({ contactId, scenarioId, id: `msg-${crypto.randomUUID()}` });
      ids.push(outgoing.id);
      await provider.send(outgoing);
      nowMs += 1000;
    }

    const all = await listOutbox(env.DB, { limit: 10, contactId });
    const onlyA = await listOutbox(env.DB, { limit: 10, contactId, scenarioId: "a" });
    const firstPage = await listOutbox(env.DB, { limit: 2, contactId });
    const secondPage = await listOutbox(env.DB, { limit: 2, contactId, after: firstPage[1]?.id });

    expect(all.map((entry) => entry.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(onlyA.map((entry) => entry.id)).toEqual([ids[2], ids[0]]);
    expect(firstPage.map((entry) => entry.id)).toEqual([ids[2], ids[1]]);
    expect(secondPage.map((entry) => entry.id)).toEqual([ids[0]]);
  });
});

describe("postmark provider", () => {
  it("posts the documented single-email request", async () => {
    const { fetch, requests } = fakeFetch(
      json(200, { To: "ada@example.com", MessageID: "pm-1", ErrorCode: 0, Message: "OK" }),
    );
    const provider = createPostmarkProvider({
      serverToken: "pm-token",
      from: "Acme <hello@acme.example>",
      fetch,
    });
    const outgoing = message();

    const result = await provider.send(outgoing);

    expect(result).toEqual({ status: "sent", providerMessageId: "pm-1" });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      url: "https://api.postmarkapp.com/email",
      method: "POST",
      headers: {
        accept: "application/json",
        "content-type": "application/json",
        "x-postmark-server-token": "pm-token",
      },
    });
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({
      From: "Acme <hello@acme.example>",
      To: "ada@example.com",
      Subject: "Your cart is waiting",
      HtmlBody: "<p>Hi Ada</p>",
      TextBody: "Hi Ada",
      Headers: [{ Name: "List-Unsubscribe", Value: "<https://example.com/u/abc>" }],
      MessageStream: "outbound",
      Metadata: { message_id: outgoing.id },
    });
  });

  it("maps 200, 422, 429, 500 and network errors to sent, failed and retry", async () => {
    const results = await outcomes({
      create: (fetch) =>
        createPostmarkProvider({ serverToken: "t", from: "a@acme.example", fetch }),
      sent: json(200, { MessageID: "pm-2", ErrorCode: 0 }),
      failed: json(422, { ErrorCode: 300, Message: "Invalid 'To' address" }),
    });

    expect(results).toEqual([
      { status: "sent", providerMessageId: "pm-2" },
      { status: "failed", error: "postmark answered 422: Invalid 'To' address" },
      { status: "retry", error: "postmark answered 429: slow down", retryAfterMs: 30_000 },
      { status: "retry", error: "postmark answered 500: oops" },
      { status: "retry", error: "postmark unreachable: network connection lost" },
    ]);
  });
});

describe("resend provider", () => {
  it("posts the documented request with our id as Idempotency-Key", async () => {
    const { fetch, requests } = fakeFetch(json(200, { id: "rs-1" }));
    const provider = createResendProvider({ apiKey: "re_key", from: "hello@acme.example", fetch });
    const outgoing = message({ html: null });

    const result = await provider.send(outgoing);

    expect(result).toEqual({ status: "sent", providerMessageId: "rs-1" });
    expect(requests[0]).toMatchObject({
      url: "https://api.resend.com/emails",
      method: "POST",
      headers: {
        authorization: "Bearer re_key",
        "content-type": "application/json",
        "idempotency-key": outgoing.id,
      },
    });
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({
      from: "hello@acme.example",
      to: ["ada@example.com"],
      subject: "Your cart is waiting",
      text: "Hi Ada",
      headers: { "List-Unsubscribe": "<https://example.com/u/abc>" },
    });
  });

  it("maps 200, 422, 429, 500 and network errors to sent, failed and retry", async () => {
    const results = await outcomes({
      create: (fetch) => createResendProvider({ apiKey: "k", from: "a@acme.example", fetch }),
      sent: json(200, { id: "rs-2" }),
      failed: json(422, {
        statusCode: 422,
        name: "validation_error",
        message: "Invalid `to` field",
      }),
    });

    expect(results.map((result) => (result as { status: string }).status)).toEqual([
      "sent",
      "failed",
      "retry",
      "retry",
      "retry",
    ]);
    expect(results[1]).toEqual({
      status: "failed",
      error: "resend answered 422: Invalid `to` field",
    });
  });

  it("retries a concurrent request with the same key but fails a reused key", async () => {
    const { fetch } = fakeFetch(
      json(409, { name: "concurrent_idempotent_requests", message: "in progress" }),
      json(409, { name: "invalid_idempotent_request", message: "different payload" }),
    );
    const provider = createResendProvider({ apiKey: "k", from: "a@acme.example", fetch });

    expect((await provider.send(message())).status).toBe("retry");
    expect((await provider.send(message())).status).toBe("failed");
  });
});

describe("twilio provider", () => {
  it("posts a form-encoded message with Basic auth", async () => {
    const { fetch, requests } = fakeFetch(json(201, { sid: "SM123", status: "queued" }));
    const provider = createTwilioProvider({
      accountSid: "AC123",
      authToken: "secret",
      from: "+15005550006",
      fetch,
    });

    const result = await provider.send(
      message({ channel: "sms", to: "+447700900123", subject: null, html: null, text: "Hi & bye" }),
    );

    expect(result).toEqual({ status: "sent", providerMessageId: "SM123" });
    expect(requests[0]).toMatchObject({
      url: "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
      method: "POST",
      headers: {
        authorization: `Basic ${btoa("AC123:secret")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
    });
    expect(Object.fromEntries(new URLSearchParams(requests[0]?.body))).toEqual({
      To: "+447700900123",
      From: "+15005550006",
      Body: "Hi & bye",
    });
  });

  it("maps 201, 400, 429, 500 and network errors to sent, failed and retry", async () => {
    const results = await outcomes({
      create: (fetch) =>
        createTwilioProvider({ accountSid: "AC1", authToken: "t", from: "+1", fetch }),
      sent: json(201, { sid: "SM1" }),
      failed: json(400, { code: 21211, message: "The 'To' number is not valid.", status: 400 }),
      message: { channel: "sms", to: "+447700900123", text: "Hi" },
    });

    expect(results.map((result) => (result as { status: string }).status)).toEqual([
      "sent",
      "failed",
      "retry",
      "retry",
      "retry",
    ]);
  });
});

describe("webhook provider", () => {
  it("posts the message as JSON to the URL with an Idempotency-Key", async () => {
    const { fetch, requests } = fakeFetch(new Response(null, { status: 204 }));
    const provider = createWebhookProvider({ fetch });
    const outgoing = message({
      channel: "internal",
      to: "https://hooks.example.com/sales?team=b2b",
      subject: "New lead",
      html: null,
      text: "Ada from Acme",
      headers: {},
    });

    const result = await provider.send(outgoing);

    expect(result).toEqual({ status: "sent", providerMessageId: `webhook:${outgoing.id}` });
    expect(requests[0]).toMatchObject({
      url: "https://hooks.example.com/sales?team=b2b",
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": outgoing.id },
    });
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({
      id: outgoing.id,
      contactId: outgoing.contactId,
      scenarioId: "cart-reminder",
      stepId: "reminder",
      channel: "internal",
      subject: "New lead",
      html: null,
      text: "Ada from Acme",
      title: null,
      url: null,
      headers: {},
    });
  });

  it("maps 200, 422, 429, 500 and network errors to sent, failed and retry", async () => {
    const results = await outcomes({
      create: (fetch) => createWebhookProvider({ fetch }),
      sent: new Response("ok", { status: 200 }),
      failed: new Response("bad", { status: 422 }),
      message: { channel: "webhook", to: "https://hooks.example.com/in" },
    });

    expect(results).toEqual([
      { status: "sent", providerMessageId: expect.stringMatching(/^webhook:msg-/) },
      { status: "failed", error: "webhook answered 422: bad" },
      { status: "retry", error: "webhook answered 429: slow down", retryAfterMs: 30_000 },
      { status: "retry", error: "webhook answered 500: oops" },
      { status: "retry", error: "webhook unreachable: network connection lost" },
    ]);
  });
});

describe("provider selection", () => {
  it("uses the outbox when nothing is configured", () => {
    for (const channel of ["email", "sms", "push", "webhook", "internal"] as const) {
      const selected = selectProvider({ channel, env: {}, db: env.DB });
      expect(selected.ok && selected.provider.name, channel).toBe("outbox");
    }
  });

  it("picks the configured providers", () => {
    const configured = {
      EMAIL_PROVIDER: "resend",
      RESEND_API_KEY: "re_key",
      EMAIL_FROM: "hello@acme.example",
      SMS_PROVIDER: "twilio",
      TWILIO_ACCOUNT_SID: "AC1",
      TWILIO_AUTH_TOKEN: "t",
      TWILIO_FROM: "+1",
      WEBHOOK_PROVIDER: "http",
    };

    const names = (["email", "sms", "webhook"] as const).map((channel) => {
      const selected = selectProvider({ channel, env: configured, db: env.DB });
      return selected.ok ? selected.provider.name : selected.error;
    });

    expect(names).toEqual(["resend", "twilio", "webhook"]);
  });

  it("reports a provider chosen without its secrets, and an unknown provider", () => {
    const noToken = selectProvider({
      channel: "email",
      env: { EMAIL_PROVIDER: "postmark", EMAIL_FROM: "a@acme.example" },
      db: env.DB,
    });
    const unknown = selectProvider({
      channel: "sms",
      env: { SMS_PROVIDER: "carrier-pigeon" },
      db: env.DB,
    });

    expect(noToken).toEqual({
      ok: false,
      error: "postmark needs POSTMARK_SERVER_TOKEN, EMAIL_FROM to be set",
    });
    expect(unknown).toEqual({ ok: false, error: expect.stringMatching(/^SMS_PROVIDER: /) });
  });

  it("routes an internal message to a URL as a webhook and to an address as email", async () => {
    const { fetch, requests } = fakeFetch(
      new Response(null, { status: 204 }),
      json(200, { MessageID: "pm-9" }),
    );
    const selected = selectProvider({
      channel: "internal",
      env: {
        EMAIL_PROVIDER: "postmark",
        POSTMARK_SERVER_TOKEN: "t",
        EMAIL_FROM: "a@acme.example",
        WEBHOOK_PROVIDER: "http",
      },
      db: env.DB,
      fetch,
    });
    if (!selected.ok) throw new Error(selected.error);

    await selected.provider.send(
      message({ channel: "internal", to: "https://hooks.example.com/x" }),
    );
    await selected.provider.send(message({ channel: "internal", to: "sales@example.com" }));

    expect(requests.map((request) => request.url)).toEqual([
      "https://hooks.example.com/x",
      "https://api.postmarkapp.com/email",
    ]);
  });
});
