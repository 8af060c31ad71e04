import { describe, expect, it } from "vitest";
import { readPostmarkWebhook } from "../src/webhooks/postmark";
import { readResendWebhook } from "../src/webhooks/resend";
import { classifySmsReply } from "../src/webhooks/sms-keywords";
import { readTwilioWebhook } from "../src/webhooks/twilio";

const NOW_MS = Date.parse("2026-03-02T10:00:00Z");

function base64(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

async function hmacBase64(hash: "SHA-1" | "SHA-256", key: Uint8Array, content: string) {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, [
    "sign",
  ]);
  return base64(await crypto.subtle.sign("HMAC", cryptoKey, new TextEncoder().encode(content)));
}

describe("Postmark webhooks", () => {
  const credentials = { user: "parcours", password: `pw-${crypto.randomUUID()}` };
  const goodAuth = `Basic ${btoa(`${credentials.user}:${credentials.password}`)}`;

  function read(payload: unknown, authorization: string | null = goodAuth) {
    const headers = new Headers({ "Content-Type": "application/json" });
    if (authorization !== null) headers.set("Authorization", authorization);
    return readPostmarkWebhook({ headers, body: JSON.stringify(payload), credentials });
  }

  function bounce(type: string, messageId: string) {
    return {
      RecordType: "Bounce",
      MessageStream: "outbound",
      ID: 4323372036854775807,
      Type: type,
      TypeCode: 1,
      Name: "Hard bounce",
      Tag: "Test",
      MessageID: "883953f4-6105-42a2-a16a-77a8eac79483",
      Metadata: { message_id: messageId, contact: "42" },
      ServerID: 23,
      Description:
        "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      Details: "Test bounce details",
      Email: "john@example.com",
      From: "sender@example.com",
      BouncedAt: "2019-11-05T16:33:54.9070259Z",
      DumpAvailable: true,
      Inactive: true,
      CanActivate: true,
      Subject: "Test subject",
      Content: "<Full dump of bounce>",
    };
  }

  it("rejects a request without Basic credentials", async () => {
    const result = await read(bounce("HardBounce", "msg-1"), null);

    expect(result).toEqual({ ok: false, status: 401, error: expect.any(String) });
  });

  it("rejects a wrong password", async () => {
    const result = await read(
      bounce("HardBounce", "msg-1"),
      `Basic ${btoa(`${credentials.user}:not-the-password`)}`,
    );

    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects every request while no credentials are configured", async () => {
    const result = await readPostmarkWebhook({
      headers: new Headers({ Authorization: `Basic ${btoa(":")}` }),
      body: JSON.stringify(bounce("HardBounce", "msg-1")),
      credentials: { user: "", password: "" },
    });

    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it("answers 400 naming the field when a signed body lacks it", async () => {
    const withoutId: Partial<ReturnType<typeof bounce>> = bounce("HardBounce", "msg-1");
    delete withoutId.MessageID;

    const result = await read(withoutId);

    expect(result).toEqual({ ok: false, status: 400, error: expect.stringContaining("MessageID") });
  });

  it("maps a delivery to our message id and Postmark's", async () => {
    const messageId = `msg-${crypto.randomUUID()}`;

    const result = await read({
      RecordType: "Delivery",
      ServerID: 23,
      MessageStream: "outbound",
      MessageID: "883953f4-6105-42a2-a16a-77a8eac79483",
      Recipient: "john@example.com",
      Tag: "welcome-email",
      DeliveredAt: "2019-11-05T16:33:54.9070259Z",
      Details: "Test delivery webhook details",
      Metadata: { message_id: messageId },
    });

    expect(result).toEqual({
      ok: true,
      events: [
        {
          provider: "postmark",
          kind: "delivered",
          messageId,
          providerMessageId: "883953f4-6105-42a2-a16a-77a8eac79483",
          atMs: Date.parse("2019-11-05T16:33:54.907Z"),
          recipient: "john@example.com",
        },
      ],
    });
  });

  it.each([
    ["HardBounce", "hard"],
    ["BadEmailAddress", "hard"],
    ["ManuallyDeactivated", "hard"],
    ["SoftBounce", "soft"],
    ["Transient", "soft"],
    ["DnsError", "soft"],
  ])("counts a %s bounce as %s", async (type, severity) => {
    const messageId = `msg-${crypto.randomUUID()}`;

    const result = await read(bounce(type, messageId));

    expect(result).toMatchObject({
      ok: true,
      events: [{ kind: "bounced", bounce: severity, messageId, recipient: "john@example.com" }],
    });
  });

  it("acknowledges an auto-reply without reporting a bounce", async () => {
    const result = await read(bounce("AutoResponder", "msg-1"));

    expect(result).toEqual({ ok: true, events: [] });
  });

  it("maps a spam complaint", async () => {
    const result = await read({
      RecordType: "SpamComplaint",
      MessageStream: "outbound",
      ID: 42,
      Type: "SpamComplaint",
      TypeCode: 512,
      Name: "Spam complaint",
      Tag: "Test",
      MessageID: "00000000-0000-0000-0000-000000000000",
      Metadata: { message_id: "msg-complaint" },
      ServerID: 1234,
      Description: "",
      Details: "Test spam complaint details",
      Email: "john@example.com",
      From: "sender@example.com",
      BouncedAt: "2019-11-05T16:33:54.9070259Z",
      DumpAvailable: true,
      Inactive: true,
      CanActivate: false,
      Subject: "Test subject",
      Content: "<Abuse report dump>",
    });

    expect(result).toMatchObject({
      ok: true,
      events: [{ kind: "complained", messageId: "msg-complaint", recipient: "john@example.com" }],
    });
  });

  it("maps an open with its user agent and address", async () => {
    const userAgent =
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) " +
      "Chrome/35.0.1916.153 Safari/537.36";

    const result = await read({
      RecordType: "Open",
      MessageStream: "outbound",
      FirstOpen: true,
      Client: { Name: "Chrome 35.0.1916.153", Company: "Google", Family: "Chrome" },
      OS: { Name: "OS X 10.7 Lion", Company: "Apple Computer, Inc.", Family: "OS X 10" },
      Platform: "WebMail",
      UserAgent: userAgent,
      ReadSeconds: 5,
      Geo: { CountryISOCode: "RS", Country: "Serbia", City: "Novi Sad", IP: "188.2.95.4" },
      MessageID: "883953f4-6105-42a2-a16a-77a8eac79483",
      Metadata: { message_id: "msg-open" },
      ReceivedAt: "2019-11-05T16:33:54.9070259Z",
      Tag: "welcome-email",
      Recipient: "john@example.com",
    });

    expect(result).toMatchObject({
      ok: true,
      events: [{ kind: "opened", messageId: "msg-open", userAgent, ip: "188.2.95.4", url: null }],
    });
  });

  it("maps a click with the original link", async () => {
    const result = await read({
      RecordType: "Click",
      MessageStream: "outbound",
      ClickLocation: "HTML",
      Client: { Name: "Chrome 35.0.1916.153", Company: "Google", Family: "Chrome" },
      OS: { Name: "OS X 10.7 Lion", Company: "Apple Computer, Inc.", Family: "OS X 10" },
      Platform: "Desktop",
      UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) Chrome/35.0.1916.153",
      OriginalLink: "https://example.com/cart",
      Geo: { IP: "8.8.8.8" },
      MessageID: "00000000-0000-0000-0000-000000000000",
      Metadata: { message_id: "msg-click" },
      ReceivedAt: "2017-10-25T15:21:11.0000000Z",
      Tag: "welcome-email",
      Recipient: "john@example.com",
    });

    expect(result).toMatchObject({
      ok: true,
      events: [
        {
          kind: "clicked",
          messageId: "msg-click",
          url: "https://example.com/cart",
          ip: "8.8.8.8",
          atMs: Date.parse("2017-10-25T15:21:11Z"),
        },
      ],
    });
  });
});

describe("Resend webhooks", () => {
  const keyBytes = crypto.getRandomValues(new Uint8Array(24));
  const secret = `whsec_${base64(keyBytes)}`;

  async function signedHeaders(body: string, options: { atMs?: number; key?: Uint8Array } = {}) {
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = String(Math.floor((options.atMs ?? NOW_MS) / 1000));
    const signature = await hmacBase64(
      "SHA-256",
      options.key ?? keyBytes,
      `${id}.${timestamp}.${body}`,
    );
    return new Headers({
      "svix-id": id,
      "svix-timestamp": timestamp,
      "svix-signature": `v1,${signature}`,
    });
  }

  async function read(payload: unknown) {
    const body = JSON.stringify(payload);
    return readResendWebhook({ headers: await signedHeaders(body), body, secret, nowMs: NOW_MS });
  }

  function email(type: string, extra: Record<string, unknown> = {}) {
    return {
      type,
      created_at: "2026-03-02T09:59:58.126Z",
      data: {
        broadcast_id: "8b146471-e88e-4322-86af-016cd36fd216",
        created_at: "2026-03-02T09:59:00.894719+00:00",
        email_id: "56761188-7520-42d8-8898-ff6fc54ce618",
        from: "Acme <onboarding@resend.dev>",
        to: ["delivered@resend.dev"],
        subject: "Sending this example",
        template_id: "43f68331-0622-4e15-8202-246a0388854b",
        tags: { category: "confirm_email" },
        ...extra,
      },
    };
  }

  it("rejects a signature made with another secret", async () => {
    const body = JSON.stringify(email("email.delivered"));
    const otherKey = crypto.getRandomValues(new Uint8Array(24));

    const result = await readResendWebhook({
      headers: await signedHeaders(body, { key: otherKey }),
      body,
      secret,
      nowMs: NOW_MS,
    });

    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects a request without svix headers", async () => {
    const body = JSON.stringify(email("email.delivered"));

    const result = await readResendWebhook({ headers: new Headers(), body, secret, nowMs: NOW_MS });

    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects a body changed after signing", async () => {
    const body = JSON.stringify(email("email.delivered"));
    const headers = await signedHeaders(body);

    const result = await readResendWebhook({
      headers,
      body: body.replace("delivered@resend.dev", "attacker@example.com"),
      secret,
      nowMs: NOW_MS,
    });

    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects a replay signed more than five minutes ago", async () => {
    const body = JSON.stringify(email("email.delivered"));

    const result = await readResendWebhook({
      headers: await signedHeaders(body, { atMs: NOW_MS - 6 * 60 * 1000 }),
      body,
      secret,
      nowMs: NOW_MS,
    });

    expect(result).toEqual({ ok: false, status: 401, error: expect.stringContaining("5 minutes") });
  });

  it("accepts any matching signature while the secret rotates", async () => {
    const body = JSON.stringify(email("email.delivered"));
    const headers = await signedHeaders(body);
    const forged = base64(crypto.getRandomValues(new Uint8Array(32)));
    headers.set("svix-signature", `v1,${forged} ${headers.get("svix-signature")}`);

    const result = await readResendWebhook({ headers, body, secret, nowMs: NOW_MS });

    expect(result).toMatchObject({ ok: true, events: [{ kind: "delivered" }] });
  });

  it("maps a delivery to Resend's email id when no message_id tag was sent", async () => {
    const result = await read(email("email.delivered"));

    expect(result).toEqual({
      ok: true,
      events: [
        {
          provider: "resend",
          kind: "delivered",
          messageId: null,
          providerMessageId: "56761188-7520-42d8-8898-ff6fc54ce618",
          atMs: Date.parse("2026-03-02T09:59:58.126Z"),
          recipient: "delivered@resend.dev",
        },
      ],
    });
  });

  it("uses a message_id tag as our id when the email carried one", async () => {
    const result = await read(email("email.opened", { tags: { message_id: "msg-tagged" } }));

    expect(result).toMatchObject({
      ok: true,
      events: [{ kind: "opened", messageId: "msg-tagged" }],
    });
  });

  it.each([
    ["Permanent", "hard"],
    ["Transient", "soft"],
    ["Undetermined", "soft"],
  ])("counts a %s bounce as %s", async (type, severity) => {
    const result = await read(
      email("email.bounced", {
        bounce: {
          message: "The recipient's email address is on the suppression list",
          subType: "Suppressed",
          type,
        },
      }),
    );

    expect(result).toMatchObject({ ok: true, events: [{ kind: "bounced", bounce: severity }] });
  });

  it("maps a complaint", async () => {
    const result = await read(email("email.complained"));

    expect(result).toMatchObject({ ok: true, events: [{ kind: "complained" }] });
  });

  it("maps a click with its link, user agent, address and click time", async () => {
    const userAgent =
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
      "Version/16.1 Safari/605.1.15";

    const result = await read(
      email("email.clicked", {
        click: {
          ipAddress: "122.115.53.11",
          link: "https://resend.com",
          timestamp: "2026-03-02T09:59:57.163Z",
          userAgent,
        },
      }),
    );

    expect(result).toMatchObject({
      ok: true,
      events: [
        {
          kind: "clicked",
          url: "https://resend.com",
          userAgent,
          ip: "122.115.53.11",
          atMs: Date.parse("2026-03-02T09:59:57.163Z"),
        },
      ],
    });
  });

  it("acknowledges event types it does not act on", async () => {
    const result = await read(email("email.sent"));

    expect(result).toEqual({ ok: true, events: [] });
  });

  it("answers 400 for a signed body that is not JSON", async () => {
    const body = "not json";

    const result = await readResendWebhook({
      headers: await signedHeaders(body),
      body,
      secret,
      nowMs: NOW_MS,
    });

    expect(result).toMatchObject({ ok: false, status: 400 });
  });
});

describe("Twilio webhooks", () => {
  const authToken = `token-${crypto.randomUUID()}`;
  const url = "https://parcours.example.com/webhooks/twilio?account=main";

  async function sign(params: Record<string, string>, token = authToken) {
    const sorted = Object.keys(params).sort();
    const content = url + sorted.map((key) => key + params[key]).join("");
    return hmacBase64("SHA-1", new TextEncoder().encode(token), content);
  }

  async function read(params: Record<string, string>, signature?: string | null) {
    const headers = new Headers({ "Content-Type": "application/x-www-form-urlencoded" });
    const value = signature === undefined ? await sign(params) : signature;
    if (value !== null) headers.set("X-Twilio-Signature", value);
    const body = new URLSearchParams(params).toString();
    return readTwilioWebhook({ headers, url, body, authToken, nowMs: NOW_MS });
  }

  const inbound = {
    ToCountry: "US",
    ToState: "CA",
    SmsMessageSid: "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    NumMedia: "0",
    ToCity: "SAN FRANCISCO",
    FromZip: "94105",
    SmsSid: "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    FromState: "CA",
    SmsStatus: "received",
    FromCity: "SAN FRANCISCO",
    Body: "Stop. Thank you",
    FromCountry: "US",
    To: "+14155550100",
    ToZip: "94105",
    NumSegments: "1",
    MessageSid: "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    AccountSid: "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    From: "+14155552671",
    ApiVersion: "2010-04-01",
  };

  function statusCallback(status: string, errorCode?: string) {
    return {
      SmsSid: "SM2b9a0d1c8f3e4a5b6c7d8e9f0a1b2c3d",
      SmsStatus: status,
      MessageStatus: status,
      To: "+14155552671",
      MessageSid: "SM2b9a0d1c8f3e4a5b6c7d8e9f0a1b2c3d",
      AccountSid: "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
      From: "+14155550100",
      ApiVersion: "2010-04-01",
      ...(errorCode !== undefined && { ErrorCode: errorCode }),
    };
  }

  it("maps an inbound SMS to its sender and text", async () => {
    const result = await read(inbound);

    expect(result).toEqual({
      ok: true,
      events: [
        {
          provider: "twilio",
          kind: "sms_inbound",
          messageId: null,
          providerMessageId: "SM1f0e8ae6ade43cb3c0ce4525424e404f",
          atMs: NOW_MS,
          recipient: "+14155550100",
          text: "Stop. Thank you",
          from: "+14155552671",
        },
      ],
    });
  });

  it("rejects a request without a signature", async () => {
    expect(await read(inbound, null)).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects a signature made with another auth token", async () => {
    const signature = await sign(inbound, "another-token");

    expect(await read(inbound, signature)).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects a form changed after signing", async () => {
    const signature = await sign(inbound);

    const result = await read({ ...inbound, Body: "START" }, signature);

    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it("maps a delivered status callback", async () => {
    const result = await read(statusCallback("delivered"));

    expect(result).toMatchObject({
      ok: true,
      events: [
        {
          kind: "delivered",
          providerMessageId: "SM2b9a0d1c8f3e4a5b6c7d8e9f0a1b2c3d",
          recipient: "+14155552671",
        },
      ],
    });
  });

  it.each([
    ["undelivered", "30006", "hard"],
    ["undelivered", "30005", "hard"],
    ["failed", "21610", "hard"],
    ["undelivered", "30003", "soft"],
    ["undelivered", "30008", "soft"],
  ])("counts %s with error %s as a %s bounce", async (status, errorCode, severity) => {
    const result = await read(statusCallback(status, errorCode));

    expect(result).toMatchObject({ ok: true, events: [{ kind: "bounced", bounce: severity }] });
  });

  it("acknowledges progress statuses without events", async () => {
    expect(await read(statusCallback("sent"))).toEqual({ ok: true, events: [] });
  });
});

describe("SMS reply keywords", () => {
  it.each([
    "STOP",
    "stop",
    "Stop. Thank you",
    "stop please",
    " STOP!",
    "StopAll",
    "UNSUBSCRIBE",
    "cancel",
    "End",
    "quit",
    "ARRÊT",
    "arret",
    "revoke",
    "OPTOUT",
    "opt-out",
    '"Stop"',
  ])("reads %j as stop", (text) => {
    expect(classifySmsReply(text)).toBe("stop");
  });

  it.each([
    "please don't stop",
    "I can't stop laughing",
    "non-stop",
    "Stopped by the store",
    "",
    "Thanks!",
  ])("reads %j as no keyword", (text) => {
    expect(classifySmsReply(text)).toBeNull();
  });

  it.each([
    ["START", "start"],
    ["unstop", "start"],
    ["Yes!", "start"],
    ["HELP", "help"],
    ["info please", "help"],
  ])("reads %j as %s", (text, keyword) => {
    expect(classifySmsReply(text)).toBe(keyword);
  });
});
