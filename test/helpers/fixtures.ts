import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  SELF,
} from "cloudflare:test";
import { expect } from "vitest";
import { contactStub } from "../../durable-objects/contact-stub";
import type { Scenario } from "../../src/engine/scenario";
import worker from "../../src/index";
import type { Job } from "../../src/queue/jobs";

const sharedScenarioFiles = import.meta.glob("../../../shared/scenarios/*.json", {
  eager: true,
  import: "default",
});
const demoTemplateFiles = import.meta.glob("../../demo/templates/*.json", {
  eager: true,
  import: "default",
});
const demoScenarioFiles = import.meta.glob("../../demo/scenarios/*.json", {
  eager: true,
  import: "default",
});

const byFileName = (files: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(files).map(([path, doc]) => [path.split("/").pop()?.replace(".json", ""), doc]),
  );

/** The real scenarios of `../shared/scenarios/`, by file name. */
export const sharedScenarios = byFileName(sharedScenarioFiles) as Record<string, unknown>;
export const demoTemplates = byFileName(demoTemplateFiles) as Record<string, { id: string }>;
export const demoScenarios = byFileName(demoScenarioFiles) as Record<string, Scenario>;

export const WRITE_AUTH = `Basic ${btoa("test-write-key:")}`;
export const ADMIN_AUTH = "Bearer test-admin-key";

/** Calls the admin API and returns status and JSON body. */
export async function admin(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const response = await SELF.fetch(`http://parcours.test/api${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: ADMIN_AUTH, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: await response.json() };
}

/** Posts one Segment call (`/v1/<type>`) with the test write key. */
export async function post(type: string, body: unknown, auth = WRITE_AUTH): Promise<Response> {
  return SELF.fetch(`http://parcours.test/v1/${type}`, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

export async function track(input: {
  userId: string;
  event: string;
  properties?: Record<string, unknown>;
  messageId?: string;
  timestamp?: string;
}): Promise<void> {
  const response = await post("track", {
    ...input,
    messageId: input.messageId ?? crypto.randomUUID(),
  });
  expect(response.status).toBe(200);
}

export async function identify(
  userId: string,
  traits: Record<string, unknown>,
  timezone?: string,
): Promise<void> {
  const response = await post("identify", {
    userId,
    traits,
    messageId: crypto.randomUUID(),
    context: timezone ? { timezone } : undefined,
  });
  expect(response.status).toBe(200);
}

/** Saves and publishes every demo template once per test file. */
export async function publishDemoTemplates(): Promise<void> {
  for (const template of Object.values(demoTemplates)) {
    const saved = await admin("/templates", { body: template });
    expect(saved.status, JSON.stringify(saved.body)).toBeLessThan(300);
    const published = await admin(`/templates/${template.id}/publish`, { method: "POST" });
    expect(published.status, JSON.stringify(published.body)).toBe(200);
  }
}

/** Saves and publishes a scenario document; returns its version. */
export async function publishScenario(scenario: unknown): Promise<number> {
  const saved = await admin("/scenarios", { body: scenario });
  expect(saved.status, JSON.stringify(saved.body)).toBeLessThan(300);
  const id = (scenario as { id: string }).id;
  const published = await admin(`/scenarios/${id}/publish`, { method: "POST" });
  expect(published.status, JSON.stringify(published.body)).toBe(200);
  return published.body.version as number;
}

/** A contact id no other test uses. */
export function freshContactId(prefix = "user"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Jobs the contact's object handed to the queue so far. */
export async function dispatchedJobs(contactId: string): Promise<Job[]> {
  return contactStub(env, contactId).dispatchedJobs();
}

/** Runs the Worker's queue consumer on jobs, as the queue would deliver them. */
export async function deliver(jobs: Job[], attempts = 1) {
  const batch = createMessageBatch<Job>(
    "parcours-sends",
    jobs.map((body, i) => ({
      id: `msg-${i}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

/** Delivers the contact's send jobs not yet delivered by this helper. */
const deliveredCounts = new Map<string, number>();
export async function deliverPending(contactId: string) {
  const jobs = await dispatchedJobs(contactId);
  const from = deliveredCounts.get(contactId) ?? 0;
  deliveredCounts.set(contactId, jobs.length);
  return deliver(jobs.slice(from));
}

export async function outboxOf(contactId: string): Promise<any[]> {
  const { body } = await admin(`/outbox?contact=${encodeURIComponent(contactId)}&limit=200`);
  return (body.messages as any[]).slice().reverse();
}
