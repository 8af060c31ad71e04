import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { parseCampaign, type Campaign } from "../campaigns/campaign";
import type { CampaignStartJob } from "../campaigns/jobs";
import {
  campaignDb,
  countRecipients,
  listRecipients,
  loadCampaign,
  recipientReasons,
  segmentSize,
  transition,
  type CampaignRow,
} from "../campaigns/store";
import { campaigns, type CampaignStatus } from "../db/schema";
import { DefinitionRepository, type DefinitionKind } from "../definitions/repository";
import { toFieldIssues, type FieldIssue, type Scenario } from "../engine/scenario";
import type { Env } from "../env";
import { badRequest, HttpError, notFound, readJson } from "../http/errors";
import type { CompiledTemplate } from "../templates/compile";

type AppEnv = { Bindings: Env };

const BODY_LIMIT_BYTES = 32 * 1024;

/** A campaign's references that cannot be used, and the consent topic it will send under. */
async function checkReferences(
  env: Env,
  campaign: Campaign,
): Promise<{ issues: FieldIssue[]; topic: string | null }> {
  const issues: FieldIssue[] = [];
  const published = async (kind: DefinitionKind, path: string, id: string) => {
    const repo = new DefinitionRepository(env.DB, kind);
    const [head, current] = await Promise.all([repo.get(id), repo.current(id)]);
    if (!head || !current) {
      issues.push({ path, message: `no published ${kind} "${id}"` });
      return null;
    }
    if (head.status !== "active") {
      issues.push({ path, message: `${kind} "${id}" is ${head.status}` });
      return null;
    }
    return current;
  };

  await published("segment", "segment", campaign.segment);
  if (campaign.template !== undefined) {
    const template = await published("template", "template", campaign.template);
    // A template version stores what `compileTemplate` made of it when it was published.
    const compiled = template?.compiled as CompiledTemplate | null | undefined;
    if (compiled && compiled.channel !== campaign.channel) {
      issues.push({
        path: "template",
        message: `template "${campaign.template}" is for ${compiled.channel}, the campaign sends ${campaign.channel}`,
      });
    }
    return { issues, topic: campaign.topic ?? null };
  }

  const scenarioId = campaign.scenario;
  if (scenarioId === undefined) return { issues, topic: null };
  const version = await published("scenario", "scenario", scenarioId);
  // A scenario version holds a document that passed `parseScenario` when it was published.
  const scenario = version?.document as Scenario | undefined;
  if (!scenario) return { issues, topic: null };
  if (scenario.trigger.type !== "campaign" || scenario.trigger.campaign !== campaign.id) {
    issues.push({
      path: "scenario",
      message: `scenario "${scenarioId}" must have the trigger { "type": "campaign", "campaign": "${campaign.id}" }`,
    });
  }
  if (scenario.consent === "transactional") {
    issues.push({ path: "scenario", message: `scenario "${scenarioId}" is transactional` });
  }
  return { issues, topic: campaign.topic ?? scenario.consent };
}

/** 409 when a reference is unusable: `not_published` if that is all that is wrong. */
function unusableReferences(issues: FieldIssue[]): HttpError {
  const unpublished = issues.every((issue) => issue.message.startsWith("no published"));
  return new HttpError(
    409,
    unpublished ? "not_published" : "invalid_reference",
    issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "),
    issues,
  );
}

async function requireCampaign(env: Env, id: string): Promise<CampaignRow> {
  const campaign = await loadCampaign(campaignDb(env.DB), id);
  if (!campaign) throw notFound(`campaign "${id}"`);
  return campaign;
}

/** Fails with 409 unless the saved document's references are still usable. */
async function recheckReferences(env: Env, campaign: CampaignRow): Promise<void> {
  const parsed = parseCampaign(campaign.document);
  if (!parsed.ok) throw badRequest(parsed.issues);
  const { issues } = await checkReferences(env, parsed.value);
  if (issues.length > 0) throw unusableReferences(issues);
}

function summary(campaign: CampaignRow) {
  return {
    id: campaign.id,
    name: campaign.name,
    status: campaign.status,
    segment: campaign.segmentId,
    template: campaign.templateId,
    scenario: campaign.scenarioId,
    channel: campaign.channel,
    topic: campaign.topic,
    sendAtMs: campaign.sendAtMs,
    maxLatenessMs: campaign.maxLatenessMs,
    startedAtMs: campaign.startedAtMs,
    finishedAtMs: campaign.finishedAtMs,
    counts: {
      total: campaign.total,
      queued: campaign.queued,
      entered: campaign.entered,
      suppressed: campaign.suppressed,
      skipped: campaign.skipped,
      failed: campaign.failed,
      sent: campaign.sent,
    },
    createdAtMs: campaign.createdAtMs,
    updatedAtMs: campaign.updatedAtMs,
  };
}

/** Moves the campaign or answers 409 with the status it is in. */
async function move(
  env: Env,
  input: {
    id: string;
    from: CampaignStatus[];
    to: CampaignStatus;
    set?: { sendAtMs?: number };
    nowMs: number;
  },
): Promise<CampaignRow> {
  const moved = await transition(campaignDb(env.DB), input);
  if (moved) return moved;
  throw await statusConflict(
    env,
    input.id,
    `only a ${input.from.join(" or ")} campaign can become ${input.to}`,
  );
}

/** 409 naming the status the campaign is in (404 when there is no such campaign). */
async function statusConflict(env: Env, id: string, rule: string): Promise<HttpError> {
  const current = await requireCampaign(env, id);
  return new HttpError(409, "campaign_status", `campaign "${id}" is ${current.status}; ${rule}`);
}

const scheduleSchema = z.strictObject({
  sendAt: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with an offset" }),
});

const recipientsQuerySchema = z.object({
  after: z.string().max(256).default(""),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `/api/campaigns`: drafts, sending now or at a time, cancelling, and the figures. */
export const campaignRoutes = new Hono<AppEnv>();

campaignRoutes.post("/", async (c) => {
  const body = await readJson(c, BODY_LIMIT_BYTES);
  const parsed = parseCampaign(body);
  if (!parsed.ok) throw badRequest(parsed.issues);
  const campaign = parsed.value;
  const { issues, topic } = await checkReferences(c.env, campaign);
  if (issues.length > 0 || topic === null) throw unusableReferences(issues);

  const db = campaignDb(c.env.DB);
  const existing = await loadCampaign(db, campaign.id);
  const nowMs = Date.now();
  const fields = {
    id: campaign.id,
    name: campaign.name,
    segmentId: campaign.segment,
    templateId: campaign.template ?? null,
    scenarioId: campaign.scenario ?? null,
    channel: campaign.channel,
    topic,
    status: "draft" as const,
    sendAtMs: campaign.sendAt === undefined ? null : Date.parse(campaign.sendAt),
    maxLatenessMs: campaign.maxLateness,
    document: body,
    updatedAtMs: nowMs,
  };
  // Replacing a draft must not overwrite a status another request just changed.
  const [saved] = await db
    .insert(campaigns)
    .values({ ...fields, createdAtMs: nowMs })
    .onConflictDoUpdate({
      target: campaigns.id,
      set: fields,
      setWhere: sql`${campaigns.status} = 'draft'`,
    })
    .returning();
  if (!saved) throw await statusConflict(c.env, campaign.id, "only a draft can be replaced");
  return c.json(summary(saved), existing ? 200 : 201);
});

campaignRoutes.get("/", async (c) => {
  const rows = await campaignDb(c.env.DB).select().from(campaigns).orderBy(campaigns.id).all();
  return c.json({ campaigns: rows.map(summary) });
});

campaignRoutes.get("/:id", async (c) => {
  const campaign = await requireCampaign(c.env, c.req.param("id"));
  const db = campaignDb(c.env.DB);
  // Cached counts lag behind send results while the campaign runs.
  const counts =
    campaign.status === "running"
      ? await countRecipients(db, campaign.id)
      : summary(campaign).counts;
  const reasons = await recipientReasons(db, campaign.id);
  return c.json({ ...summary(campaign), counts, recipients: { reasons } });
});

campaignRoutes.get("/:id/recipients", async (c) => {
  const query = recipientsQuerySchema.safeParse(c.req.query());
  if (!query.success) throw badRequest(toFieldIssues(query.error));
  const campaign = await requireCampaign(c.env, c.req.param("id"));
  const recipients = await listRecipients(campaignDb(c.env.DB), {
    campaignId: campaign.id,
    afterContactId: query.data.after,
    limit: query.data.limit,
  });
  return c.json({ recipients });
});

campaignRoutes.post("/:id/send", async (c) => {
  const campaign = await requireCampaign(c.env, c.req.param("id"));
  await recheckReferences(c.env, campaign);

  const nowMs = Date.now();
  const scheduled = await move(c.env, {
    id: campaign.id,
    from: ["draft", "scheduled"],
    to: "scheduled",
    set: { sendAtMs: nowMs },
    nowMs,
  });
  const job: CampaignStartJob = { kind: "campaign-start", campaignId: campaign.id };
  await c.env.SENDS.send(job, { contentType: "json" });
  return c.json(summary(scheduled), 202);
});

campaignRoutes.post("/:id/schedule", async (c) => {
  const parsed = scheduleSchema.safeParse(await readJson(c, BODY_LIMIT_BYTES));
  if (!parsed.success) throw badRequest(toFieldIssues(parsed.error));
  const campaign = await requireCampaign(c.env, c.req.param("id"));
  const nowMs = Date.now();
  const sendAtMs = Date.parse(parsed.data.sendAt);
  if (sendAtMs + campaign.maxLatenessMs < nowMs) {
    throw badRequest([{ path: "sendAt", message: "is past the campaign's allowed lateness" }]);
  }
  await recheckReferences(c.env, campaign);

  const scheduled = await move(c.env, {
    id: campaign.id,
    from: ["draft", "scheduled"],
    to: "scheduled",
    set: { sendAtMs },
    nowMs,
  });
  return c.json(summary(scheduled));
});

campaignRoutes.post("/:id/cancel", async (c) => {
  const cancelled = await move(c.env, {
    id: c.req.param("id"),
    from: ["draft", "scheduled", "running"],
    to: "cancelled",
    nowMs: Date.now(),
  });
  return c.json(summary(cancelled));
});

/** `/api/segments/:id/size`: how many contacts the segment holds now. */
export const segmentSizeRoutes = new Hono<AppEnv>();

segmentSizeRoutes.get("/:id/size", async (c) => {
  const id = c.req.param("id");
  if (!(await new DefinitionRepository(c.env.DB, "segment").get(id))) {
    throw notFound(`segment "${id}"`);
  }
  return c.json({ id, size: await segmentSize(c.env.DB, id) });
});
