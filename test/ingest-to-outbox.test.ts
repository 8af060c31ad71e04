import { env } from "cloudflare:test";
import { describe, expect, it, beforeAll } from "vitest";
import {
  admin,
  deliverPending,
  demoScenarios,
  freshContactId,
  identify,
  outboxOf,
  publishDemoTemplates,
  publishScenario,
  sharedScenarios,
  track,
} from "./helpers/fixtures";

beforeAll(async () => {
  await publishDemoTemplates();
  await publishScenario(sharedScenarios["trial-confirmation"]);
  await publishScenario(sharedScenarios["password-reset"]);
  await publishScenario(demoScenarios["order-confirmation"]);
});

describe("ingest to outbox", () => {
  it("sends the trial confirmation once through the queue", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, first_name: "Ada" });
    await track({ userId, event: "Trial Booked", properties: { day: "2026-12-10" } });

    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox).toHaveLength(1);
    expect(outbox[0].to).toBe(`${userId}@example.test`);
    expect(outbox[0].scenarioId).toBe("trial-confirmation");
    expect(outbox[0].stepId).toBe("confirm");
    expect(outbox[0].channel).toBe("email");
    expect(outbox[0].html).toContain("Ada");
  });

  it("renders the order's product lines in the confirmation", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({
      userId,
      event: "Order Completed",
      properties: {
        order_id: "536365",
        total: 139.12,
        currency: "GBP",
        products: [
          { sku: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", quantity: 6, price: 2.55 },
        ],
      },
    });

    await deliverPending(userId);

    const [message] = await outboxOf(userId);
    expect(message.subject).toContain("536365");
    expect(message.html).toContain("WHITE HANGING HEART T-LIGHT HOLDER");
    expect(message.text).toContain("139.12");
  });

  it("sends a password reset every time it is asked for", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test` });
    await track({
      userId,
      event: "Password Reset Requested",
      properties: { reset_url: "https://x.test/r/1" },
    });
    await track({
      userId,
      event: "Password Reset Requested",
      properties: { reset_url: "https://x.test/r/2" },
    });

    await deliverPending(userId);

    const outbox = await outboxOf(userId);
    expect(outbox.filter((m) => m.scenarioId === "password-reset")).toHaveLength(2);
    const contact = await admin(`/contacts/${userId}`);
    expect(contact.body.messages.filter((m: any) => m.status === "sent")).toHaveLength(2);
  });

  it("exports everything held about a contact, then erases it everywhere", async () => {
    const userId = freshContactId();
    await identify(userId, { email: `${userId}@example.test`, first_name: "Eve" });
    await track({ userId, event: "Trial Booked" });
    await deliverPending(userId);

    const exported = await admin(`/contacts/${userId}/export`);
    expect(exported.status).toBe(200);
    expect(exported.body.profile.traits.first_name).toBe("Eve");
    expect(exported.body.events.map((e: { name: string }) => e.name)).toEqual(["Trial Booked"]);
    expect(exported.body.outbox).toHaveLength(1);

    const erased = await admin(`/contacts/${userId}`, { method: "DELETE" });
    expect(erased.status).toBe(200);
    expect((await admin(`/contacts/${userId}`)).status).toBe(404);
    expect(await outboxOf(userId)).toEqual([]);
    const { results } = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM messages WHERE contact_id = ?1) + (SELECT count(*) FROM contacts WHERE id = ?1) AS n",
    )
      .bind(userId)
      .all<{ n: number }>();
    expect(results[0]?.n).toBe(0);
  });
});
