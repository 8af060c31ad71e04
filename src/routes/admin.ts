import { Hono } from "hono";
import { z } from "zod";
import { contactStub } from "../../durable-objects/contact-stub";
import { invalidateCatalog } from "../catalog/catalog";
import { listOutbox } from "../channels/outbox";
import { DefinitionRepository, type DefinitionKind } from "../definitions/repository";
import { parseSegment } from "../definitions/segment";
import type { Condition } from "../engine/condition";
import {
  parseScenario,
  toFieldIssues,
  type FieldIssue,
  type ParseResult,
  type Scenario,
} from "../engine/scenario";
import type { Env } from "../env";
import { requireAdmin } from "../http/auth";
import { badRequest, HttpError, notFound, readJson } from "../http/errors";
import { compileTemplate, type CompiledTemplate } from "../templates/compile";
import { parseTemplate } from "../templates/template";
import type { Job } from "../queue/jobs";
import { segmentSize } from "../campaigns/store";
import { campaignRoutes, segmentSizeRoutes } from "./campaigns";
import { contactRoutes } from "./contacts";
import { simulateRoutes } from "./simulate";
import { statsRoutes } from "./stats";

const DOCUMENT_LIMIT_BYTES = 256 * 1024;

type AppEnv = { Bindings: Env };

/** How each kind is validated on save and frozen on publish. */
interface DefinitionRules {
  kind: DefinitionKind;
  plural: string;
  /** Validates a document and returns what a version stores beside it (compiled form). */
  validate(input: unknown): Promise<ParseResult<{ id: string; name: string; compiled: unknown }>>;
  /** Cross-references checked at publish: templates and segments a scenario names exist. */
  checkReferences?(env: Env, document: unknown): Promise<FieldIssue[]>;
  /** Work a publish starts, such as asking contacts to arm a new scenario's date triggers. */
  afterPublish?(env: Env, document: unknown): Promise<void>;
  /** Work a status change starts, such as ending or releasing the runs of a scenario. */
  afterStatusChange?(env: Env, change: { id: string; status: string }): Promise<void>;
}

/** Triggers that each contact's object arms itself, so a publish must reach every contact. */
const CONTACT_ARMED_TRIGGERS = new Set(["date", "inactivity", "condition", "segment"]);

const scenarioRules: DefinitionRules = {
  kind: "scenario",
  plural: "scenarios",
  async validate(input) {
    const parsed = parseScenario(input);
    if (!parsed.ok) return parsed;
    return { ok: true, value: { id: parsed.value.id, name: parsed.value.name, compiled: null } };
  },
  async checkReferences(env, document) {
    const scenario = document as Scenario;
    const templates = new DefinitionRepository(env.DB, "template");
    const issues: FieldIssue[] = [];
    for (const [stepId, step] of Object.entries(scenario.steps)) {
      if (step.type !== "send") continue;
      const current = await templates.current(step.template);
      const compiled = current?.compiled as CompiledTemplate | null | undefined;
      if (!compiled) {
        issues.push({
          path: `steps.${stepId}.template`,
          message: `no published template "${step.template}"`,
        });
      } else if (compiled.channel !== step.channel) {
        issues.push({
          path: `steps.${stepId}.template`,
          message: `template "${step.template}" is for ${compiled.channel}, the step sends ${step.channel}`,
        });
      } else if (
        compiled.topic !== null &&
        step.channel !== "internal" &&
        compiled.topic !== scenario.consent
      ) {
        // Consent, unsubscribe links and headers follow the scenario's consent: a template
        // written for another topic would reach contacts who opted out of it.
        issues.push({
          path: `steps.${stepId}.template`,
          message: `template "${step.template}" is for topic "${compiled.topic}", the scenario's consent is "${scenario.consent}"`,
        });
      }
    }
    const segments = new DefinitionRepository(env.DB, "segment");
    for (const { path, segment } of segmentReferences(scenario)) {
      if (!(await segments.current(segment))) {
        issues.push({ path, message: `no published segment "${segment}"` });
      }
    }
    return issues;
  },
  async afterPublish(env, document) {
    const scenario = document as Scenario;
    if (!CONTACT_ARMED_TRIGGERS.has(scenario.trigger.type)) return;
    const job: Job = {
      kind: "sync-contacts",
      reason: `publish ${scenario.id}`,
      afterContactId: null,
    };
    await env.SENDS.send(job, { contentType: "json" });
  },
  /**
   * Paused runs are held lazily, when their timer fires; a resume releases them and a stop
   * ends them in every contact, so both reach every contact through the queue.
   */
  async afterStatusChange(env, change) {
    if (change.status !== "active" && change.status !== "stopped") return;
    const job: Job = {
      kind: "sync-contacts",
      reason: `${change.status} ${change.id}`,
      afterContactId: null,
    };
    await env.SENDS.send(job, { contentType: "json" });
  },
};

const templateRules: DefinitionRules = {
  kind: "template",
  plural: "templates",
  async validate(input) {
    const parsed = parseTemplate(input);
    if (!parsed.ok) return parsed;
    const compiled = await compileTemplate(parsed.value);
    if (!compiled.ok) return compiled;
    const name = parsed.value.name ?? parsed.value.id;
    return { ok: true, value: { id: parsed.value.id, name, compiled: compiled.value } };
  },
};

const segmentRules: DefinitionRules = {
  kind: "segment",
  plural: "segments",
  async validate(input) {
    const parsed = parseSegment(input);
    if (!parsed.ok) return parsed;
    return { ok: true, value: { id: parsed.value.id, name: parsed.value.name, compiled: null } };
  },
  /** Membership is evaluated by each contact's object: every contact re-evaluates it now. */
  async afterPublish(env, document) {
    const job: Job = {
      kind: "sync-contacts",
      reason: `publish segment ${(document as { id: string }).id}`,
      afterContactId: null,
    };
    await env.SENDS.send(job, { contentType: "json" });
  },
};

/** Every `{ segment }` a scenario's conditions name, with the path to it. */
function segmentReferences(scenario: Scenario): Array<{ path: string; segment: string }> {
  const found: Array<{ path: string; segment: string }> = [];
  const walk = (condition: Condition | undefined, path: string): void => {
    if (!condition) return;
    if ("segment" in condition) found.push({ path: `${path}.segment`, segment: condition.segment });
    if ("all" in condition) condition.all.forEach((c, i) => walk(c, `${path}.all.${i}`));
    if ("any" in condition) condition.any.forEach((c, i) => walk(c, `${path}.any.${i}`));
    if ("not" in condition) walk(condition.not, `${path}.not`);
  };
  walk(scenario.audience, "audience");
  if (scenario.trigger.type === "condition") walk(scenario.trigger.condition, "trigger.condition");
  if (scenario.trigger.type === "segment") {
    found.push({ path: "trigger.segment", segment: scenario.trigger.segment });
  }
  for (const [stepId, step] of Object.entries(scenario.steps)) {
    if (step.type === "branch")
      step.cases.forEach((c, i) => walk(c.if, `steps.${stepId}.cases.${i}.if`));
  }
  return found;
}

function definitionRoutes(rules: DefinitionRules): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const repo = (env: Env) => new DefinitionRepository(env.DB, rules.kind);

  const save = async (env: Env, body: unknown, expectedId: string | null) => {
    const validated = await rules.validate(body);
    if (!validated.ok) throw badRequest(validated.issues);
    if (expectedId !== null && validated.value.id !== expectedId) {
      throw badRequest([{ path: "id", message: `must equal the id in the URL ("${expectedId}")` }]);
    }
    const { created } = await repo(env).saveDraft({
      id: validated.value.id,
      name: validated.value.name,
      draft: body,
      nowMs: Date.now(),
    });
    return { id: validated.value.id, created };
  };

  routes.get("/", async (c) => c.json({ [rules.plural]: await repo(c.env).list() }));

  routes.post("/", async (c) => {
    const { id, created } = await save(c.env, await readJson(c, DOCUMENT_LIMIT_BYTES), null);
    return c.json(await repo(c.env).get(id), created ? 201 : 200);
  });

  routes.put("/:id", async (c) => {
    const id = c.req.param("id");
    const { created } = await save(c.env, await readJson(c, DOCUMENT_LIMIT_BYTES), id);
    return c.json(await repo(c.env).get(id), created ? 201 : 200);
  });

  routes.get("/:id", async (c) => {
    const detail = await repo(c.env).get(c.req.param("id"));
    if (!detail) throw notFound(`${rules.kind} "${c.req.param("id")}"`);
    if (rules.kind !== "segment") return c.json(detail);
    return c.json({ ...detail, size: await segmentSize(c.env.DB, detail.id) });
  });

  routes.get("/:id/versions/:version", async (c) => {
    const version = await repo(c.env).version(c.req.param("id"), Number(c.req.param("version")));
    if (!version) throw notFound(`version ${c.req.param("version")} of "${c.req.param("id")}"`);
    return c.json(version);
  });

  routes.post("/:id/publish", async (c) => {
    const id = c.req.param("id");
    const detail = await repo(c.env).get(id);
    if (!detail) throw notFound(`${rules.kind} "${id}"`);
    const validated = await rules.validate(detail.draft);
    if (!validated.ok) throw badRequest(validated.issues);
    const issues = (await rules.checkReferences?.(c.env, detail.draft)) ?? [];
    if (issues.length > 0) throw badRequest(issues);

    const version = await repo(c.env).publish({
      id,
      document: detail.draft,
      compiled: validated.value.compiled,
      nowMs: Date.now(),
    });
    invalidateCatalog();
    await rules.afterPublish?.(c.env, detail.draft);
    return c.json({ id, version, status: "active" });
  });

  for (const [action, status] of [
    ["pause", "paused"],
    ["resume", "active"],
    ["stop", "stopped"],
    ["archive", "archived"],
  ] as const) {
    // Only scenarios have runs to stop.
    if (action === "stop" && rules.kind !== "scenario") continue;
    routes.post(`/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      const detail = await repo(c.env).get(id);
      if (!detail) throw notFound(`${rules.kind} "${id}"`);
      if (status === "active" && detail.currentVersion === null) {
        throw new HttpError(409, "not_published", `${rules.kind} "${id}" has no published version`);
      }
      await repo(c.env).setStatus({ id, status, nowMs: Date.now() });
      invalidateCatalog();
      await rules.afterStatusChange?.(c.env, { id, status });
      return c.json({ id, status });
    });
  }

  return routes;
}

const enrolSchema = z.strictObject({
  userId: z.union([z.string().min(1).max(256), z.number()]).transform(String),
  properties: z.record(z.string(), z.unknown()).optional(),
  requestId: z.string().min(1).max(128).optional(),
});

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", requireAdmin);
/** Enters a contact into a scenario with an `api` trigger; `requestId` makes a retry harmless. */
adminRoutes.post("/scenarios/:id/enrol", async (c) => {
  const parsed = enrolSchema.safeParse(await readJson(c, 32 * 1024));
  if (!parsed.success) throw badRequest(toFieldIssues(parsed.error));
  const { userId, properties, requestId } = parsed.data;
  const result = await contactStub(c.env, userId).enrol({
    contactId: userId,
    scenarioId: c.req.param("id"),
    properties: properties ?? {},
    requestId: requestId ?? crypto.randomUUID(),
  });
  if (!result.entered && result.reason?.startsWith("not an active scenario")) {
    throw new HttpError(
      409,
      "not_enrollable",
      `scenario "${c.req.param("id")}" is ${result.reason}`,
    );
  }
  return c.json(result, result.entered ? 201 : 200);
});
adminRoutes.route("/scenarios", simulateRoutes);
adminRoutes.route("/scenarios", definitionRoutes(scenarioRules));
adminRoutes.route("/templates", definitionRoutes(templateRules));
adminRoutes.route("/segments", segmentSizeRoutes);
adminRoutes.route("/segments", definitionRoutes(segmentRules));
adminRoutes.route("/campaigns", campaignRoutes);
adminRoutes.route("/contacts", contactRoutes);
adminRoutes.route("/stats", statsRoutes);

adminRoutes.get("/outbox", async (c) => {
  const limit = Number(c.req.query("limit") ?? 50);
  if (!Number.isInteger(limit) || limit < 1) {
    throw badRequest([{ path: "limit", message: "must be a positive integer" }]);
  }
  const messages = await listOutbox(c.env.DB, {
    limit,
    contactId: c.req.query("contact") || undefined,
    scenarioId: c.req.query("scenario") || undefined,
    after: c.req.query("after") || undefined,
  });
  return c.json({ messages });
});
