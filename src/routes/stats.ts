import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { messages, stepMetrics } from "../db/schema";
import type { Env } from "../env";

export const statsRoutes = new Hono<{ Bindings: Env }>();

/** Funnel of one scenario: counters per version and step, and its messages by status. */
statsRoutes.get("/scenarios/:id", async (c) => {
  const scenarioId = c.req.param("id");
  const db = drizzle(c.env.DB);
  const [steps, sends] = await Promise.all([
    db
      .select({
        version: stepMetrics.version,
        stepId: stepMetrics.stepId,
        metric: stepMetrics.metric,
        count: sql<number>`sum(${stepMetrics.count})`,
      })
      .from(stepMetrics)
      .where(eq(stepMetrics.scenarioId, scenarioId))
      .groupBy(stepMetrics.version, stepMetrics.stepId, stepMetrics.metric)
      .all(),
    db
      .select({
        stepId: messages.stepId,
        channel: messages.channel,
        status: messages.status,
        count: sql<number>`count(*)`,
      })
      .from(messages)
      .where(and(eq(messages.scenarioId, scenarioId)))
      .groupBy(messages.stepId, messages.channel, messages.status)
      .all(),
  ]);

  const funnel: Record<string, Record<string, Record<string, number>>> = {};
  for (const row of steps) {
    const version = (funnel[row.version] ??= {});
    const step = (version[row.stepId] ??= {});
    step[row.metric] = row.count;
  }
  return c.json({ scenarioId, funnel, messages: sends });
});

/** Messages by channel and status, across scenarios. */
statsRoutes.get("/messages", async (c) => {
  const rows = await drizzle(c.env.DB)
    .select({
      scenarioId: messages.scenarioId,
      channel: messages.channel,
      status: messages.status,
      count: sql<number>`count(*)`,
    })
    .from(messages)
    .groupBy(messages.scenarioId, messages.channel, messages.status)
    .all();
  return c.json({ messages: rows });
});
