import { Hono } from "hono";
import { z } from "zod";
import { getCatalog } from "../catalog/catalog";
import { parseFrequencyCaps } from "../config/caps";
import { DefinitionRepository } from "../definitions/repository";
import { parseScenario, toFieldIssues, type Scenario } from "../engine/scenario";
import type { Env } from "../env";
import { badRequest, notFound, readJson } from "../http/errors";
import {
  simulateScenario,
  simulationRequestSchema,
  type SubjectRenderer,
} from "../simulator/simulate";
import type { CompiledTemplate } from "../templates/compile";
import { renderMessage } from "../templates/render";

type AppEnv = { Bindings: Env };

/** Renders subjects with the published templates, loading each template once per request. */
function subjectRenderer(env: Env): SubjectRenderer {
  const templates = new DefinitionRepository(env.DB, "template");
  const loaded = new Map<string, Promise<CompiledTemplate | null>>();
  return async ({ job, traits, trigger, event }) => {
    if (!loaded.has(job.templateId)) {
      loaded.set(
        job.templateId,
        templates
          .current(job.templateId)
          .then((v) => (v?.compiled as CompiledTemplate | null) ?? null),
      );
    }
    const template = await loaded.get(job.templateId);
    if (!template) return null;
    const rendered = await renderMessage({
      template,
      context: {
        contact: { ...traits, id: job.contactId },
        trigger,
        event,
        run: { id: job.runId, scenario_id: job.scenarioId, step_id: job.stepId },
        message: {},
      },
    });
    return rendered.ok ? rendered.subject : `(render error: ${rendered.error})`;
  };
}

async function run(env: Env, scenario: Scenario, version: number, body: unknown) {
  const parsed = simulationRequestSchema.safeParse(body);
  if (!parsed.success) throw badRequest(toFieldIssues(parsed.error));
  const catalog = await getCatalog(env.DB);
  const caps = parseFrequencyCaps(env.FREQUENCY_CAPS);
  return simulateScenario({
    scenario,
    version,
    request: parsed.data,
    segments: catalog.segments,
    caps: caps.ok ? caps.caps : {},
    nowMs: Date.now(),
    renderSubject: subjectRenderer(env),
  });
}

export const simulateRoutes = new Hono<AppEnv>();

/** Simulates a draft document sent in the body: `{ scenario, contact, events, … }`. */
simulateRoutes.post("/simulate", async (c) => {
  const body = await readJson(c, 512 * 1024);
  const parsed = z.looseObject({ scenario: z.unknown() }).safeParse(body);
  if (!parsed.success) throw badRequest(toFieldIssues(parsed.error));
  const scenario = parseScenario(parsed.data.scenario);
  if (!scenario.ok) {
    throw badRequest(
      scenario.issues.map((issue) => ({ ...issue, path: `scenario.${issue.path}` })),
    );
  }
  const { scenario: _document, ...request } = parsed.data;
  return c.json(await run(c.env, scenario.value, 0, request));
});

/** Simulates the current published version, or `?version=N`, or the draft with `?draft=1`. */
simulateRoutes.post("/:id/simulate", async (c) => {
  const id = c.req.param("id");
  const repo = new DefinitionRepository(c.env.DB, "scenario");
  const body = await readJson(c, 512 * 1024);
  if (c.req.query("draft")) {
    const detail = await repo.get(id);
    if (!detail) throw notFound(`scenario "${id}"`);
    const scenario = parseScenario(detail.draft);
    if (!scenario.ok) throw badRequest(scenario.issues);
    return c.json(await run(c.env, scenario.value, 0, body));
  }
  const wanted = c.req.query("version");
  const version = wanted ? await repo.version(id, Number(wanted)) : await repo.current(id);
  if (!version) throw notFound(`published scenario "${id}"${wanted ? ` version ${wanted}` : ""}`);
  return c.json(await run(c.env, version.document as Scenario, version.version, body));
});
