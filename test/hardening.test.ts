import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../src/engine/scenario";
import type { Job } from "../src/queue/jobs";
import { signToken, verifyToken } from "../src/tracking/token";
import {
  admin,
  deliver,
  deliverPending,
  freshContactId,
  identify,
  publishDemoTemplates,
  sharedScenarios,
} from "./helpers/fixtures";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

describe("tracking tokens", () => {
  it("refuses every other spelling of a signature, including its last character", async () => {
    const token = await signToken("secret", {
      kind: "click",
      contactId: "c1",
      messageId: "m1",
      url: "https://shop.example.com/winter",
    });
    expect(await verifyToken("secret", token, "click")).not.toBeNull();

    const accepted: string[] = [];
    for (const char of ALPHABET) {
      const altered = `${token.slice(0, -1)}${char}`;
      if (altered !== token && (await verifyToken("secret", altered, "click"))) accepted.push(char);
    }
    expect(accepted).toEqual([]);
  });
});

describe("scenario validation", () => {
  it("refuses step ids that are names of Object's prototype instead of failing", async () => {
    const scenario = structuredClone(sharedScenarios["password-reset"]) as any;
    const proto = JSON.parse(
      '{"id":"bad-proto","name":"x","trigger":{"type":"api"},"consent":"transactional",' +
        '"reentry":{"policy":"always"},"start":"__proto__","steps":{"__proto__":{"type":"exit"}}}',
    );
    expect(parseScenario(proto).ok).toBe(false);
    scenario.steps["send-link"].next = "constructor";
    const result = parseScenario(scenario);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toContain("steps.send-link.next");

    const response = await admin("/scenarios", { body: proto });
    expect(response.status).toBe(400);
  });

  it("refuses to publish a transactional scenario that sends a marketing template", async () => {
    await publishDemoTemplates();
    const scenario = structuredClone(sharedScenarios["password-reset"]) as any;
    scenario.id = `tx-${crypto.randomUUID().slice(0, 8)}`;
    scenario.steps["send-link"].template = "birthday-offer-email";
    await admin("/scenarios", { body: scenario });
    const published = await admin(`/scenarios/${scenario.id}/publish`, { method: "POST" });
    expect(published.status).toBe(400);
    expect(published.body.issues[0]).toMatchObject({ path: "steps.send-link.template" });
    expect(published.body.issues[0].message).toContain('topic "offers"');
  });

  it("refuses a send window that never opens", () => {
    const scenario = structuredClone(sharedScenarios["cart-reminder"]) as any;
    scenario.sendWindow = { from: "09:00", to: "09:00" };
    const result = parseScenario(scenario);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(["sendWindow.to"]);
  });

  it("refuses an unknown scenario time zone with the field", async () => {
    const scenario = { ...(sharedScenarios["password-reset"] as object), timezone: "Mars/Olympus" };
    const response = await admin("/scenarios", { body: scenario });
    expect(response.status).toBe(400);
    expect(response.body.issues).toEqual([
      { path: "timezone", message: "is not an IANA time zone (e.g. Europe/Paris)" },
    ]);
  });
});

describe("segments", () => {
  it("counts contacts that were already there when a segment is published", async () => {
    const belgians = [freshContactId(), freshContactId()];
    for (const userId of belgians) {
      await identify(userId, { email: `${userId}@example.test`, country: `BE-${belgians[0]}` });
      await deliverPending(userId);
    }
    const segmentId = `be-${crypto.randomUUID().slice(0, 8)}`;
    await admin("/segments", {
      body: {
        id: segmentId,
        name: "Belgians",
        condition: { trait: "country", op: "eq", value: `BE-${belgians[0]}` },
      },
    });
    expect((await admin(`/segments/${segmentId}/publish`, { method: "POST" })).status).toBe(200);

    const job: Job = { kind: "sync-contacts", reason: "test", afterContactId: null };
    await deliver([job]);
    for (const userId of belgians) await deliverPending(userId);

    expect((await admin(`/segments/${segmentId}`)).body.size).toBe(2);
    const { results } = await env.DB.prepare(
      "SELECT contact_id FROM segment_members WHERE segment_id = ? ORDER BY contact_id",
    )
      .bind(segmentId)
      .all<{ contact_id: string }>();
    expect(results.map((row) => row.contact_id)).toEqual([...belgians].sort());
  });
});
