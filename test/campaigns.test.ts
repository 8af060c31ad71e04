import { env } from "cloudflare:test";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import type { EnterCampaignInput, EnterCampaignResult } from "../src/campaigns/campaign";
import {
  campaignDependencies,
  handleCampaignJob,
  SEND_RESULT_WAIT_MS,
  type CampaignDependencies,
  type EnterCampaign,
} from "../src/campaigns/fan-out";
import type { CampaignJob } from "../src/campaigns/jobs";
import { resumeStalledCampaigns, startDueCampaigns } from "../src/campaigns/scheduler";
import type { Env } from "../src/env";
import { errorResponse } from "../src/http/errors";
import { campaignRoutes, segmentSizeRoutes } from "../src/routes/campaigns";
import { silentLogger } from "../src/shared/logger";
import { contactStub } from "../durable-objects/contact-stub";
import {
  admin,
  deliverPending,
  demoTemplates,
  dispatchedJobs,
  freshContactId,
  identify,
  outboxOf,
  publishScenario,
} from "./helpers/fixtures";

/** The campaign routes as the admin API mounts them, without its authentication. */
const app = new Hono<{ Bindings: Env }>()
  .route("/api/campaigns", campaignRoutes)
  .route("/api/segments", segmentSizeRoutes);
app.onError((error, c) => errorResponse(error, c, silentLogger));

async function api(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await app.request(
    `http://parcours.test/api${path}`,
    {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json" },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    },
    env,
  );
  return { status: response.status, body: await response.json<Record<string, unknown>>() };
}

const freshId = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** `m-00042`: ids sort in the order they were made, as the fan-out pages them. */
const memberIds = (count: number) =>
  Array.from({ length: count }, (_, i) => `m-${String(i).padStart(5, "0")}`);
const indexOf = (contactId: string) => Number(contactId.slice(2));

async function publishSegment(): Promise<string> {
  const id = freshId("segment");
  const saved = await admin("/segments", {
    body: { id, name: "Business plans", condition: { trait: "plan", op: "eq", value: "business" } },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(201);
  expect((await admin(`/segments/${id}/publish`, { method: "POST" })).status).toBe(200);
  return id;
}

/** Mirrors members into D1 as the contacts' objects would, 33 rows per statement. */
async function addMembers(segmentId: string, contactIds: string[]): Promise<void> {
  const statements = [];
  for (let i = 0; i < contactIds.length; i += 33) {
    const chunk = contactIds.slice(i, i + 33);
    const values = chunk.map(() => "(?, ?, 0)").join(", ");
    statements.push(
      env.DB.prepare(
        `INSERT INTO segment_members (segment_id, contact_id, updated_at_ms) VALUES ${values}`,
      ).bind(...chunk.flatMap((contactId) => [segmentId, contactId])),
    );
  }
  await env.DB.batch(statements);
}

/**
 * Contact objects as the fan-out sees them: the first outcome per (campaign, contact) is kept
 * and answered again on a repeat; `failing` makes a call throw as an unreachable object would.
 */
function fakeContacts(outcomeOf: (contactId: string) => Omit<EnterCampaignResult, "messageId">) {
  const first = new Map<string, EnterCampaignResult>();
  const calls = new Map<string, number>();
  const inputs: EnterCampaignInput[] = [];
  const state = { failing: (_contactId: string, _call: number) => false };
  const enterCampaign: EnterCampaign = async (contactId, input) => {
    const call = (calls.get(contactId) ?? 0) + 1;
    calls.set(contactId, call);
    if (state.failing(contactId, call)) throw new Error("contact object unavailable");
    const key = `${input.campaignId}/${contactId}`;
    const known = first.get(key);
    if (known) return known;
    inputs.push(input);
    const { outcome, reason } = outcomeOf(contactId);
    const messageId = outcome === "queued" ? `${contactId}:campaign-${input.campaignId}` : null;
    const result = { outcome, reason, messageId };
    first.set(key, result);
    return result;
  };
  return { enterCampaign, calls, first, inputs, state };
}

interface Delivery {
  job: CampaignJob;
  attempts: number;
}

/**
 * The sends queue, driven by hand on a virtual clock: a job that throws is delivered again
 * with one more attempt, a delayed job waits until the clock passes its time.
 */
function campaignQueue(input: { enterCampaign: EnterCampaign; startMs: number }) {
  let nowMs = input.startMs;
  const ready: Delivery[] = [];
  const delayed: Array<Delivery & { dueMs: number }> = [];
  const delivered: Delivery[] = [];
  const state = { crashOnEnqueue: (_job: CampaignJob) => false };
  const deps: CampaignDependencies = {
    env,
    logger: silentLogger,
    nowMs: () => nowMs,
    enterCampaign: input.enterCampaign,
    enqueue: async (job, options) => {
      if (state.crashOnEnqueue(job)) throw new Error("worker died before the queue took the job");
      const delayMs = (options?.delaySeconds ?? 0) * 1000;
      if (delayMs > 0) delayed.push({ job, attempts: 1, dueMs: nowMs + delayMs });
      else ready.push({ job, attempts: 1 });
    },
  };

  const step = async (): Promise<boolean> => {
    const delivery = ready.shift();
    if (!delivery) return false;
    delivered.push(delivery);
    try {
      await handleCampaignJob({ ...delivery, deps });
    } catch (error) {
      if (delivery.attempts >= 6) throw error;
      ready.push({ job: delivery.job, attempts: delivery.attempts + 1 });
    }
    return true;
  };

  return {
    state,
    delivered,
    delayed,
    nowMs: () => nowMs,
    send: (job: CampaignJob) => ready.push({ job, attempts: 1 }),
    step,
    async run(): Promise<void> {
      while (await step());
    },
    advanceMs(ms: number): void {
      nowMs += ms;
      for (const item of delayed.filter((d) => d.dueMs <= nowMs)) {
        delayed.splice(delayed.indexOf(item), 1);
        ready.push({ job: item.job, attempts: item.attempts });
      }
    },
  };
}

async function createCampaign(doc: Record<string, unknown>): Promise<string> {
  const created = await api("/campaigns", { body: doc });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return doc.id as string;
}

const templateCampaign = (segment: string) => ({
  id: freshId("winter"),
  name: "Winter offer",
  segment,
  template: "winter-offer-email",
  topic: "offers",
});

async function recipientFigures(campaignId: string) {
  return env.DB.prepare(
    `SELECT count(*) AS rows, count(DISTINCT contact_id) AS contacts
     FROM campaign_recipients WHERE campaign_id = ?`,
  )
    .bind(campaignId)
    .first<{ rows: number; contacts: number }>();
}

/** What the send consumer would leave in `messages` for the campaign's queued sends. */
async function settleSends(campaignId: string, failedWhen: string): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO messages (id, contact_id, channel, template_id, status, created_at)
     SELECT message_id, contact_id, 'email', 'winter-offer-email',
       CASE WHEN ${failedWhen} THEN 'failed' ELSE 'sent' END, 0
     FROM campaign_recipients WHERE campaign_id = ? AND outcome = 'queued'`,
  )
    .bind(campaignId)
    .run();
}

beforeAll(async () => {
  for (const id of ["winter-offer-email", "winter-offer-reminder-email"]) {
    expect((await admin("/templates", { body: demoTemplates[id] })).status).toBeLessThan(300);
    expect((await admin(`/templates/${id}/publish`, { method: "POST" })).status).toBe(200);
  }
});

describe("campaign fan-out", () => {
  it("reaches 10 000 members once each through a crashed page and a lost enqueue", async () => {
    const segment = await publishSegment();
    const members = memberIds(10_000);
    await addMembers(segment, members);
    const campaignId = await createCampaign(templateCampaign(segment));
    expect((await api(`/campaigns/${campaignId}/send`, { method: "POST" })).status).toBe(202);

    const contacts = fakeContacts((contactId) => {
      const i = indexOf(contactId);
      if (i % 50 === 0) return { outcome: "suppressed", reason: "unsubscribed" };
      if (i % 50 === 1) return { outcome: "skipped", reason: "no email address" };
      return { outcome: "queued", reason: null };
    });
    // The page after m-04999 dies half-way: its last 50 objects fail on the first delivery.
    contacts.state.failing = (contactId, call) =>
      call === 1 && indexOf(contactId) >= 5050 && indexOf(contactId) < 5100;
    const queue = campaignQueue({ enterCampaign: contacts.enterCampaign, startMs: Date.now() });
    // The worker dies after the page after m-06999 is written, before the next is queued.
    let lost = false;
    queue.state.crashOnEnqueue = (job) => {
      if (lost || job.kind !== "campaign-page" || job.afterContactId !== "m-07099") return false;
      lost = true;
      return true;
    };
    queue.send({ kind: "campaign-start", campaignId });
    await queue.run();

    const twice = [...contacts.calls].filter(([, calls]) => calls > 1).map(([id]) => id);
    expect(twice).toEqual(members.slice(5050, 5100));
    expect(contacts.first.size).toBe(10_000);
    expect(lost).toBe(true);
    expect(await recipientFigures(campaignId)).toEqual({ rows: 10_000, contacts: 10_000 });
    const running = await api(`/campaigns/${campaignId}`);
    expect(running.body.status).toBe("running");
    expect(running.body.counts).toMatchObject({ total: 10_000, queued: 9_600, sent: 0 });
    expect(queue.delayed.map((d) => d.job.kind)).toEqual(["campaign-finish"]);

    await settleSends(campaignId, "CAST(substr(contact_id, 3) AS INTEGER) % 250 = 2");
    queue.advanceMs(60_000);
    await queue.run();

    const finished = await api(`/campaigns/${campaignId}`);
    expect(finished.body.status).toBe("finished");
    expect(finished.body.counts).toEqual({
      total: 10_000,
      queued: 0,
      entered: 0,
      suppressed: 200,
      skipped: 200,
      failed: 40,
      sent: 9_560,
    });
    expect(finished.body.recipients).toEqual({
      reasons: [
        { outcome: "skipped", reason: "no email address", count: 200 },
        { outcome: "suppressed", reason: "unsubscribed", count: 200 },
      ],
    });
    const pages = await env.DB.prepare(
      "SELECT count(*) AS pages, sum(contact_count) AS contacts FROM campaign_pages WHERE campaign_id = ?",
    )
      .bind(campaignId)
      .first();
    expect(pages).toEqual({ pages: 101, contacts: 10_000 });
  });

  it("enters a scenario and records a contact whose object keeps failing as failed", async () => {
    const segment = await publishSegment();
    await addMembers(segment, memberIds(5));
    const campaignId = freshId("relaunch");
    const scenarioId = freshId("winter-follow-up");
    await publishScenario({
      id: scenarioId,
      name: "Winter offer with a reminder to non-openers",
      trigger: { type: "campaign", campaign: campaignId },
      consent: "offers",
      reentry: { policy: "once" },
      start: "offer",
      steps: {
        offer: { type: "send", channel: "email", template: "winter-offer-email", next: "opened" },
        opened: {
          type: "wait_for",
          engagement: { step: "offer", kind: "opened" },
          within: "P2D",
          then: "done",
          timeout: "reminder",
        },
        reminder: {
          type: "send",
          channel: "email",
          template: "winter-offer-reminder-email",
          next: "done",
        },
        done: { type: "exit" },
      },
    });
    await createCampaign({ id: campaignId, name: "Relaunch", segment, scenario: scenarioId });
    await api(`/campaigns/${campaignId}/send`, { method: "POST" });
    const contacts = fakeContacts(() => ({ outcome: "entered", reason: null }));
    contacts.state.failing = (contactId) => contactId === "m-00003";
    const queue = campaignQueue({ enterCampaign: contacts.enterCampaign, startMs: Date.now() });

    queue.send({ kind: "campaign-start", campaignId });
    await queue.run();

    expect(contacts.inputs[0]).toEqual({
      campaignId,
      scenarioId,
      templateId: null,
      channel: "email",
      topic: "offers",
    });
    expect(contacts.calls.get("m-00003")).toBe(3);
    const { body } = await api(`/campaigns/${campaignId}`);
    expect(body.status).toBe("finished");
    expect(body.counts).toMatchObject({ total: 5, entered: 4, failed: 1 });
    const failed = await api(`/campaigns/${campaignId}/recipients?after=m-00002&limit=1`);
    expect(failed.body.recipients).toMatchObject([
      { contactId: "m-00003", outcome: "failed", reason: "contact object failed on 3 deliveries" },
    ]);
  });

  it("finishes a day after the fan-out with unconfirmed sends counted as failed", async () => {
    const segment = await publishSegment();
    await addMembers(segment, memberIds(3));
    const campaignId = await createCampaign(templateCampaign(segment));
    await api(`/campaigns/${campaignId}/send`, { method: "POST" });
    const contacts = fakeContacts(() => ({ outcome: "queued", reason: null }));
    const queue = campaignQueue({ enterCampaign: contacts.enterCampaign, startMs: Date.now() });
    queue.send({ kind: "campaign-start", campaignId });
    await queue.run();
    await settleSends(campaignId, "contact_id <> 'm-00000'");
    await env.DB.prepare("DELETE FROM messages WHERE id LIKE ? AND contact_id <> 'm-00000'")
      .bind(`%:campaign-${campaignId}`)
      .run();

    queue.advanceMs(60_000);
    await queue.run();
    expect((await api(`/campaigns/${campaignId}`)).body).toMatchObject({
      status: "running",
      counts: { total: 3, sent: 1, queued: 2 },
    });
    queue.advanceMs(SEND_RESULT_WAIT_MS);
    await queue.run();

    const { body } = await api(`/campaigns/${campaignId}`);
    expect(body).toMatchObject({ status: "finished", counts: { total: 3, sent: 1, failed: 2 } });
    expect(body.recipients).toEqual({
      reasons: [{ outcome: "failed", reason: "no send result within 24 hours", count: 2 }],
    });
  });

  it("stops between pages when the campaign is cancelled", async () => {
    const segment = await publishSegment();
    await addMembers(segment, memberIds(250));
    const campaignId = await createCampaign(templateCampaign(segment));
    await api(`/campaigns/${campaignId}/send`, { method: "POST" });
    const contacts = fakeContacts(() => ({ outcome: "queued", reason: null }));
    const queue = campaignQueue({ enterCampaign: contacts.enterCampaign, startMs: Date.now() });
    queue.send({ kind: "campaign-start", campaignId });
    await queue.step();
    await queue.step();

    expect((await api(`/campaigns/${campaignId}/cancel`, { method: "POST" })).status).toBe(200);
    await queue.run();

    expect(contacts.first.size).toBe(100);
    expect((await api(`/campaigns/${campaignId}`)).body.status).toBe("cancelled");
    const again = await api(`/campaigns/${campaignId}/send`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain("is cancelled");
  });
});

describe("campaign over contact objects", () => {
  it("sends once per contact, suppresses the unsubscribed, and finishes on the send results", async () => {
    const segment = await publishSegment();
    const people = [freshContactId("a"), freshContactId("b"), freshContactId("c")].sort();
    for (const userId of people) {
      await identify(userId, { email: `${userId}@example.test`, plan: "business" });
    }
    await contactStub(env, people[1] as string).setConsent({
      topic: "offers",
      status: "unsubscribed",
      source: "test",
    });
    await addMembers(segment, people);
    const campaignId = await createCampaign(templateCampaign(segment));
    await api(`/campaigns/${campaignId}/send`, { method: "POST" });
    const { enterCampaign } = campaignDependencies({
      env,
      logger: silentLogger,
      nowMs: () => Date.now(),
    });
    const queue = campaignQueue({ enterCampaign, startMs: Date.now() });

    queue.send({ kind: "campaign-start", campaignId });
    await queue.run();
    // A redelivered first page finds every contact already reached and asks no object again.
    await env.DB.prepare("DELETE FROM campaign_pages WHERE campaign_id = ?").bind(campaignId).run();
    queue.send({ kind: "campaign-page", campaignId, afterContactId: "" });
    await queue.run();
    for (const userId of people) await deliverPending(userId);
    queue.advanceMs(60_000);
    await queue.run();

    for (const userId of people) {
      const sends = (await dispatchedJobs(userId)).filter((job) => job.kind === "send");
      expect(sends.map((job) => job.messageId)).toEqual([`${userId}:campaign-${campaignId}`]);
    }
    expect((await outboxOf(people[0] as string)).map((m) => m.to)).toEqual([
      `${people[0]}@example.test`,
    ]);
    expect(await outboxOf(people[1] as string)).toEqual([]);
    const { body } = await api(`/campaigns/${campaignId}`);
    expect(body).toMatchObject({
      status: "finished",
      counts: { total: 3, sent: 2, suppressed: 1, queued: 0 },
    });
    expect(body.recipients).toEqual({
      reasons: [{ outcome: "suppressed", reason: "unsubscribed from offers", count: 1 }],
    });
  });
});

describe("campaign schedule", () => {
  it("expires a campaign that starts past its allowed lateness, sending nothing", async () => {
    const segment = await publishSegment();
    await addMembers(segment, memberIds(3));
    const campaignId = await createCampaign({ ...templateCampaign(segment), maxLateness: "PT2H" });
    const sendAtMs = Date.now() + 3_600_000;
    await api(`/campaigns/${campaignId}/schedule`, {
      body: { sendAt: new Date(sendAtMs).toISOString() },
    });
    const contacts = fakeContacts(() => ({ outcome: "queued", reason: null }));
    const queue = campaignQueue({
      enterCampaign: contacts.enterCampaign,
      startMs: sendAtMs + 2 * 3_600_000 + 1,
    });

    queue.send({ kind: "campaign-start", campaignId });
    await queue.run();

    const { body } = await api(`/campaigns/${campaignId}`);
    expect(body).toMatchObject({ status: "expired", finishedAtMs: queue.nowMs() });
    expect(queue.delivered.map((d) => d.job.kind)).toEqual(["campaign-start"]);
    expect(contacts.calls.size).toBe(0);
    expect(await recipientFigures(campaignId)).toEqual({ rows: 0, contacts: 0 });
  });

  it("starts a scheduled campaign once due, once for two start jobs", async () => {
    const segment = await publishSegment();
    await addMembers(segment, memberIds(150));
    const campaignId = await createCampaign(templateCampaign(segment));
    const sendAtMs = Date.now() + 10 * 60_000;
    const scheduled = await api(`/campaigns/${campaignId}/schedule`, {
      body: { sendAt: new Date(sendAtMs).toISOString() },
    });
    expect(scheduled.body).toMatchObject({ status: "scheduled", sendAtMs });

    expect(await startDueCampaigns(env, sendAtMs - 60_000)).not.toContain(campaignId);
    expect(await startDueCampaigns(env, sendAtMs + 30_000)).toContain(campaignId);
    // Two cron ticks queued it twice before the first start job ran.
    const contacts = fakeContacts(() => ({ outcome: "queued", reason: null }));
    const queue = campaignQueue({
      enterCampaign: contacts.enterCampaign,
      startMs: sendAtMs + 60_000,
    });
    queue.send({ kind: "campaign-start", campaignId });
    queue.send({ kind: "campaign-start", campaignId });
    await queue.run();

    const kinds = queue.delivered.map((d) => d.job.kind);
    expect(kinds).toEqual([
      "campaign-start",
      "campaign-start",
      "campaign-page",
      "campaign-page",
      "campaign-finish",
    ]);
    expect(contacts.first.size).toBe(150);
    expect(await startDueCampaigns(env, sendAtMs + 120_000)).not.toContain(campaignId);
    expect((await api(`/campaigns/${campaignId}`)).body).toMatchObject({
      status: "running",
      startedAtMs: sendAtMs + 60_000,
      counts: { total: 150, queued: 150 },
    });
  });
});

describe("campaign watchdog", () => {
  it("re-queues the next page or the finish of a campaign that stalled", async () => {
    const segment = await publishSegment();
    const campaignId = await createCampaign(templateCampaign(segment));
    const startedAtMs = 1_800_000_000_000;
    await env.DB.prepare("UPDATE campaigns SET status = 'running', started_at_ms = ? WHERE id = ?")
      .bind(startedAtMs, campaignId)
      .run();
    const mine = (jobs: CampaignJob[]) => jobs.filter((job) => job.campaignId === campaignId);

    expect(mine(await resumeStalledCampaigns(env, startedAtMs + 5 * 60_000))).toEqual([]);
    expect(mine(await resumeStalledCampaigns(env, startedAtMs + 11 * 60_000))).toEqual([
      { kind: "campaign-page", campaignId, afterContactId: "" },
    ]);

    const doneAtMs = startedAtMs + 20 * 60_000;
    await env.DB.prepare(
      `INSERT INTO campaign_pages (campaign_id, after_contact_id, contact_count,
         next_after_contact_id, done_at_ms) VALUES (?, '', 100, 'm-00099', ?)`,
    )
      .bind(campaignId, doneAtMs)
      .run();
    expect(mine(await resumeStalledCampaigns(env, doneAtMs + 60_000))).toEqual([]);
    expect(mine(await resumeStalledCampaigns(env, doneAtMs + 11 * 60_000))).toEqual([
      { kind: "campaign-page", campaignId, afterContactId: "m-00099" },
    ]);

    await env.DB.prepare(
      "UPDATE campaign_pages SET next_after_contact_id = NULL WHERE campaign_id = ?",
    )
      .bind(campaignId)
      .run();
    expect(mine(await resumeStalledCampaigns(env, doneAtMs + 11 * 60_000))).toEqual([
      { kind: "campaign-finish", campaignId, firstCheckAtMs: doneAtMs },
    ]);
  });
});

describe("campaign API", () => {
  it.each([
    ["id", { id: "Winter Offer" }],
    ["topic", { topic: undefined }],
    ["topic", { topic: "transactional" }],
    ["template", { scenario: "winter-follow-up" }],
    ["channel", { channel: "webhook" }],
    ["sendAt", { sendAt: "tomorrow morning" }],
    ["maxLateness", { maxLateness: "P1M" }],
    ["segment", { segment: undefined }],
  ])("answers 400 naming %s", async (path, change) => {
    const doc = { ...templateCampaign("any-segment"), ...change };

    const { status, body } = await api("/campaigns", { body: doc });

    expect(status).toBe(400);
    expect(body.issues).toContainEqual(expect.objectContaining({ path }));
  });

  it("answers 409 when the segment or template is not published", async () => {
    const doc = { ...templateCampaign("no-such-segment"), template: "no-such-template" };

    const { status, body } = await api("/campaigns", { body: doc });

    expect(status).toBe(409);
    expect(body.error).toBe("not_published");
    expect(body.issues).toEqual([
      { path: "segment", message: 'no published segment "no-such-segment"' },
      { path: "template", message: 'no published template "no-such-template"' },
    ]);
  });

  it("answers 409 for a scenario whose trigger is not this campaign", async () => {
    const segment = await publishSegment();
    const scenarioId = freshId("other-campaign");
    await publishScenario({
      id: scenarioId,
      name: "Started by another campaign",
      trigger: { type: "campaign", campaign: "someone-else" },
      consent: "offers",
      reentry: { policy: "once" },
      start: "offer",
      steps: {
        offer: { type: "send", channel: "email", template: "winter-offer-email", next: "done" },
        done: { type: "exit" },
      },
    });

    const doc = { id: freshId("mine"), name: "Mine", segment, scenario: scenarioId };
    const { status, body } = await api("/campaigns", { body: doc });

    expect(status).toBe(409);
    expect(body.error).toBe("invalid_reference");
    expect(body.issues).toMatchObject([{ path: "scenario" }]);
  });

  it("answers 400 naming sendAt for a schedule in the past", async () => {
    const campaignId = await createCampaign(templateCampaign(await publishSegment()));

    const { status, body } = await api(`/campaigns/${campaignId}/schedule`, {
      body: { sendAt: "2020-01-01T00:00:00Z" },
    });

    expect(status).toBe(400);
    expect(body.issues).toEqual([
      { path: "sendAt", message: "is past the campaign's allowed lateness" },
    ]);
  });

  it("reports a segment's size and lists campaigns", async () => {
    const segment = await publishSegment();
    await addMembers(segment, memberIds(42));
    const campaignId = await createCampaign(templateCampaign(segment));

    expect((await api(`/segments/${segment}/size`)).body).toEqual({ id: segment, size: 42 });
    expect((await api("/segments/no-such-segment/size")).status).toBe(404);
    const { body } = await api("/campaigns");
    expect(body.campaigns).toContainEqual(
      expect.objectContaining({
        id: campaignId,
        status: "draft",
        segment,
        template: "winter-offer-email",
        topic: "offers",
        maxLatenessMs: 3_600_000,
      }),
    );
  });
});
