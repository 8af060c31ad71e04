import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { contactStub } from "../durable-objects/contact-stub";
import { freshContactId, post } from "./helpers/fixtures";

describe("alias", () => {
  it("folds an anonymous visitor's history, traits and opt-outs into the identified contact", async () => {
    const visitor = `v-${crypto.randomUUID().slice(0, 8)}`;
    const userId = freshContactId();
    for (const body of [
      { type: "identify", anonymousId: visitor, traits: { utm_source: "newsletter" } },
      { type: "track", anonymousId: visitor, event: "Product Viewed", properties: { sku: "A1" } },
      { type: "track", anonymousId: visitor, event: "Product Added", properties: { sku: "A1" } },
    ]) {
      const response = await post(body.type, { ...body, messageId: crypto.randomUUID() });
      expect(response.status).toBe(200);
    }
    await contactStub(env, `anon:${visitor}`).setConsent({
      topic: "offers",
      status: "unsubscribed",
      source: "api",
    });

    await post("identify", {
      userId,
      traits: { email: `${userId}@example.test`, utm_source: "direct" },
      messageId: crypto.randomUUID(),
    });
    const alias = await post("alias", {
      userId,
      previousId: visitor,
      messageId: crypto.randomUUID(),
    });
    expect(alias.status).toBe(200);

    const merged = await contactStub(env, userId).view();
    expect(merged.events.map((e) => e.name)).toEqual(["Product Viewed", "Product Added"]);
    expect(merged.profile?.traits).toMatchObject({
      email: `${userId}@example.test`,
      utm_source: "direct",
    });
    expect(merged.consent).toMatchObject([
      { topic: "offers", status: "unsubscribed", source: `alias:anon:${visitor}` },
    ]);
  });

  it("answers 400 naming previousId when it is missing", async () => {
    const response = await post("alias", { userId: freshContactId() });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path)).toEqual(["previousId"]);
  });
});
