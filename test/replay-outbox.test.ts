/// <reference types="vite/client" />
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { contactStub } from "../durable-objects/contact-stub";
import type { Job } from "../src/queue/jobs";
import { expectedOrderConfirmations, retailCallsFromCsv } from "../src/replay/retail";
import day from "../../shared/data/uci-online-retail/by-day/2010-12-01.csv?raw";
import {
  deliver,
  demoScenarios,
  publishDemoTemplates,
  publishScenario,
  WRITE_AUTH,
} from "./helpers/fixtures";

beforeAll(async () => {
  await publishDemoTemplates();
  await publishScenario(demoScenarios["order-confirmation"]);
});

async function outboxForScenario(
  scenarioId: string,
): Promise<Array<{ contactId: string; to: string; html: string }>> {
  const { results } = await env.DB.prepare(
    "SELECT contact_id AS contactId, to_address AS 'to', html FROM outbox WHERE scenario_id = ?",
  )
    .bind(scenarioId)
    .all<{ contactId: string; to: string; html: string }>();
  return results;
}

describe("replaying a real day of orders", () => {
  it("sends exactly one confirmation per completed order of a known customer", async () => {
    const calls = retailCallsFromCsv(day);
    for (let start = 0; start < calls.length; start += 100) {
      const response = await SELF.fetch("http://parcours.test/v1/batch", {
        method: "POST",
        headers: { authorization: WRITE_AUTH, "content-type": "application/json" },
        body: JSON.stringify({ batch: calls.slice(start, start + 100) }),
      });
      expect(response.status, await response.clone().text()).toBe(200);
    }

    const contactIds = [...new Set(calls.map((call) => call.userId ?? `anon:${call.anonymousId}`))];
    const jobs: Job[] = [];
    for (const contactId of contactIds) {
      jobs.push(...(await contactStub(env, contactId).dispatchedJobs()));
    }
    for (let start = 0; start < jobs.length; start += 50) {
      await deliver(jobs.slice(start, start + 50));
    }

    const confirmations = await outboxForScenario("order-confirmation");
    expect(confirmations).toHaveLength(expectedOrderConfirmations(day));
    expect(confirmations).toHaveLength(121);
    expect(confirmations.every((m) => !m.contactId.startsWith("anon:"))).toBe(true);
    const first = confirmations.find(
      (m) => m.to === "c17850@example.test" && m.html.includes("536365"),
    );
    expect(first?.html).toContain("WHITE HANGING HEART T-LIGHT HOLDER");
  }, 60_000);
});
