import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { contactStub } from "../durable-objects/contact-stub";
import { CLICK_SETTLE_MS } from "../src/engine/contact-engine";
import { fireAlarm } from "./helpers/alarms";
import { restoreClock, useVirtualClock } from "./helpers/clock";
import {
  admin,
  deliverPending,
  freshContactId,
  identify,
  outboxOf,
  publishDemoTemplates,
  publishScenario,
  sharedScenarios,
  track,
} from "./helpers/fixtures";
import { hit, trackingUrls } from "./helpers/tracking";

const view = (contactId: string) => contactStub(env, contactId).view();

beforeAll(async () => {
  await publishDemoTemplates();
  await publishScenario(sharedScenarios["lead-nurturing"]);
});

afterEach(() => restoreClock());

/** A click resolves a wait once the burst window has passed: move on and wake the contact. */
async function settleClick(clock: { advanceMs(ms: number): void }, userId: string) {
  clock.advanceMs(CLICK_SETTLE_MS);
  await fireAlarm(userId);
}

/** A business lead who got the alert and the guide email; returns the guide's stored message. */
async function leadWithGuide(clockIso: string) {
  const clock = useVirtualClock(clockIso);
  const userId = freshContactId();
  await identify(userId, { email: `${userId}@example.test`, company: "Initech" });
  await track({ userId, event: "Signed Up", properties: { plan: "business" } });
  await deliverPending(userId);
  const guide = (await outboxOf(userId)).find((m) => m.stepId === "guide");
  return { clock, userId, guide };
}

describe("tracking routes", () => {
  it("answers the open pixel with an uncacheable GIF and records the open", async () => {
    const { userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    const [open] = trackingUrls(guide.html).opens;

    const response = await hit(open as string);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/gif");
    expect(response.headers.get("cache-control")).toContain("no-store");
    expect(new Uint8Array(await response.arrayBuffer()).slice(0, 6)).toEqual(
      new TextEncoder().encode("GIF89a"),
    );
    await deliverPending(userId);
    const { results } = await env.DB.prepare(
      "SELECT kind, machine FROM engagements WHERE contact_id = ?",
    )
      .bind(userId)
      .all();
    expect(results).toEqual([{ kind: "opened", machine: 0 }]);
  });

  it("redirects a click to the original link and never redirects an altered token", async () => {
    const { guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    const [click] = trackingUrls(guide.html).clicks;
    expect(click).toBeDefined();

    const response = await hit(click as string);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toMatch(/^https:\/\//);

    const [payload, signature] = (click as string).split("/t/c/")[1]!.split(".");
    const forgedPayload = btoa(
      JSON.stringify({ k: "c", c: "x", m: "y", u: "https://evil.example" }),
    ).replace(/=+$/, "");
    for (const altered of [
      `${payload}.${signature!.slice(0, -2)}xx`,
      `${forgedPayload}.${signature}`,
      `${payload}`,
    ]) {
      const refused = await hit(`http://parcours.test/t/c/${altered}`);
      expect(refused.status).toBe(404);
      expect(refused.headers.get("location")).toBeNull();
    }
  });

  it("puts the pixel and tracked links in the HTML and the text part", async () => {
    const { guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    expect(trackingUrls(guide.html).opens).toHaveLength(1);
    expect(guide.text).toMatch(/http:\/\/parcours\.test\/t\/c\//);
    expect(guide.text).not.toMatch(/https:\/\/(?!.*parcours)/);
  });
});

describe("engagement drives the lead-nurturing waits", () => {
  it("takes the clicked path for a person's click an hour after sending", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    clock.set("2026-12-01T11:00:00Z");

    await hit(trackingUrls(guide.html).clicks[0] as string);
    await settleClick(clock, userId);
    await deliverPending(userId);

    const state = await view(userId);
    expect(state.profile?.traits.lead_score).toBe(30);
    expect((await outboxOf(userId)).map((m) => m.stepId)).toEqual([
      "alert-sales",
      "guide",
      "case-study",
    ]);
  });

  it("ignores a burst of scanner clicks 2 seconds after delivery", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    clock.set("2026-12-01T10:00:02Z");
    const clicks = trackingUrls(guide.html).clicks;
    expect(clicks.length).toBeGreaterThan(0);
    for (const url of clicks) await hit(url);
    for (const url of clicks) await hit(url, { method: "HEAD" });
    await deliverPending(userId);

    const state = await view(userId);
    expect(state.runs[0]?.wait?.stepId).toBe("wait-guide");
    expect(state.profile?.traits.lead_score).toBeUndefined();
    const { results } = await env.DB.prepare(
      "SELECT DISTINCT machine FROM engagements WHERE contact_id = ? AND kind = 'clicked'",
    )
      .bind(userId)
      .all();
    expect(results).toEqual([{ machine: 1 }]);

    clock.set("2026-12-01T11:00:00Z");
    await hit(clicks[0] as string);
    await settleClick(clock, userId);
    await deliverPending(userId);
    expect((await view(userId)).profile?.traits.lead_score).toBe(30);
  });

  it("unmasks a sweep of clicks 30 seconds after sending, first click included", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    clock.set("2026-12-01T10:00:30Z");
    const [first] = trackingUrls(guide.html).clicks;
    for (let i = 0; i < 6; i++) {
      await hit(first as string);
      clock.advanceMs(200);
    }
    await settleClick(clock, userId);
    await deliverPending(userId);
    const { results } = await env.DB.prepare(
      "SELECT machine FROM engagements WHERE contact_id = ? AND kind = 'clicked'",
    )
      .bind(userId)
      .all<{ machine: number }>();
    expect(results.map((row) => row.machine)).toEqual([1, 1, 1, 1, 1, 1]);

    const state = await view(userId);
    expect(state.runs[0]?.wait?.stepId).toBe("wait-guide");
    expect(state.profile?.traits.lead_score).toBeUndefined();
  });

  it("takes one link fetched several times in the same millisecond for a machine", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    clock.set("2026-12-01T11:00:00Z");
    const [first] = trackingUrls(guide.html).clicks;
    await Promise.all(Array.from({ length: 4 }, () => hit(first as string)));
    await settleClick(clock, userId);
    expect((await view(userId)).profile?.traits.lead_score).toBeUndefined();
  });

  it("hands a lead who clicked both emails over to sales", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    clock.set("2026-12-01T11:00:00Z");
    await hit(trackingUrls(guide.html).clicks[0] as string);
    await settleClick(clock, userId);
    await deliverPending(userId);
    const caseStudy = (await outboxOf(userId)).find((m) => m.stepId === "case-study");
    clock.set("2026-12-02T09:00:00Z");
    await hit(trackingUrls(caseStudy.html).clicks[0] as string);
    await settleClick(clock, userId);
    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox.map((m) => m.stepId)).toEqual([
      "alert-sales",
      "guide",
      "case-study",
      "hand-over",
    ]);
    expect(outbox.at(-1).to).toBe("sales@example.com");
    expect((await view(userId)).profile?.traits.lead_score).toBe(60);
  });

  it("counts an open made before the deadline but reported after it, and never both paths", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    const postmarkClick = (atIso: string) =>
      fetchWebhook({
        RecordType: "Click",
        MessageID: crypto.randomUUID(),
        Recipient: `${userId}@example.test`,
        ReceivedAt: atIso,
        OriginalLink: "https://example.com/guide",
        ClickLocation: "HTML",
        Platform: "Desktop",
        UserAgent:
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
        Metadata: { message_id: guide.id },
        Tag: "",
        MessageStream: "outbound",
        Geo: {},
        Client: {},
        OS: {},
      });
    clock.set("2026-12-04T10:01:00Z");

    const late = await postmarkClick("2026-12-04T09:59:59Z");
    expect(late.status).toBe(200);
    await fireAlarm(userId);
    await deliverPending(userId);
    expect((await view(userId)).profile?.traits.lead_score).toBe(30);

    clock.set("2026-12-07T10:10:00Z");
    await fireAlarm(userId);
    await deliverPending(userId);
    const steps = (await outboxOf(userId)).map((m) => m.stepId);
    expect(steps.filter((s) => s === "case-study")).toHaveLength(1);
  });
});

async function fetchWebhook(payload: unknown): Promise<Response> {
  const { SELF } = await import("cloudflare:test");
  return SELF.fetch("http://parcours.test/webhooks/postmark", {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa("postmark-user:postmark-password")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(payload),
  });
}

describe("unsubscribe", () => {
  it("carries one-click headers and a footer link on marketing email only", async () => {
    const { userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    const alert = (await outboxOf(userId)).find((m) => m.stepId === "alert-sales");
    const unsubscribe = trackingUrls(guide.html).unsubscribes[0];
    expect(guide.headers).toEqual({
      "List-Unsubscribe": `<${unsubscribe}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    });
    expect(guide.text).toContain(unsubscribe);
    expect(alert.headers).toEqual({});
  });

  it("shows a page on GET and changes nothing", async () => {
    const { userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    const url = trackingUrls(guide.html).unsubscribes[0] as string;
    const page = await hit(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('method="post"');
    expect((await view(userId)).consent).toEqual([]);
  });

  it("unsubscribes at once on the one-click POST and stops a message already queued", async () => {
    const { clock, userId, guide } = await leadWithGuide("2026-12-01T10:00:00Z");
    clock.set("2026-12-04T10:05:00Z");
    await fireAlarm(userId);

    const { SELF } = await import("cloudflare:test");
    const response = await SELF.fetch(trackingUrls(guide.html).unsubscribes[0] as string, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(response.status).toBe(200);
    await deliverPending(userId);

    expect((await view(userId)).consent).toMatchObject([
      { topic: "newsletter", status: "unsubscribed", source: "list-unsubscribe-one-click" },
    ]);
    expect((await outboxOf(userId)).map((m) => m.stepId)).toEqual(["alert-sales", "guide"]);
    const contact = await admin(`/contacts/${userId}`);
    const caseStudy = contact.body.messages.find((m: any) => m.stepId === "case-study");
    expect(caseStudy).toMatchObject({
      status: "suppressed",
      error: "unsubscribed from newsletter",
    });
  });

  it("still sends transactional email to an unsubscribed contact", async () => {
    useVirtualClock("2026-12-01T10:00:00Z");
    await publishScenario(sharedScenarios["password-reset"]);
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, unsubscribed: true });
    await track({ userId, event: "Password Reset Requested" });
    await deliverPending(userId);
    expect((await outboxOf(userId)).map((m) => m.scenarioId)).toEqual(["password-reset"]);
    expect((await view(userId)).consent).toMatchObject([
      { topic: "all", status: "unsubscribed", source: "identify" },
    ]);
  });

  it("accepts consent through the API with its source", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    const response = await admin(`/contacts/${userId}/consent`, {
      body: { topic: "offers", status: "unsubscribed" },
    });
    expect(response.status).toBe(200);
    expect((await view(userId)).consent).toMatchObject([
      { topic: "offers", status: "unsubscribed", source: "api" },
    ]);
    const bad = await admin(`/contacts/${userId}/consent`, {
      body: { topic: "offers", status: "maybe" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe("status");
  });
});
