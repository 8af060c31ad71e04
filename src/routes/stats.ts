import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { messages, stepMetrics } from "../db/schema";
import type { Env } from "../env";

export const statsRoutes = new Hono<{ Bindings: Env }>();

/** Funnel of one scenario: counters per version and step, and its messages by status. */
async function scenarioStats(env: Env, scenarioId: string) {
  const db = drizzle(env.DB);
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
  return { scenarioId, funnel, messages: sends };
}

statsRoutes.get("/scenarios/:id", async (c) =>
  c.json(await scenarioStats(c.env, c.req.param("id"))),
);

/** How often the live stream looks for changes, and how long one stream lasts. */
export const STREAM_INTERVAL_MS = 2_000;
export const STREAM_LIFETIME_MS = 5 * 60_000;

/**
 * A live stream of a scenario's statistics (server-sent events): one `stats` event at once,
 * then one whenever the figures change. The client reconnects after the stream's lifetime.
 */
statsRoutes.get("/scenarios/:id/stream", async (c) => {
  const scenarioId = c.req.param("id");
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let last = "";

  const stream = new ReadableStream<Uint8Array>({
    start: async (controller) => {
      const push = async () => {
        const body = JSON.stringify(await scenarioStats(c.env, scenarioId));
        if (body === last) return;
        last = body;
        controller.enqueue(encoder.encode(`event: stats\ndata: ${body}\n\n`));
      };
      const startedAtMs = performance.now();
      await push();
      timer = setInterval(() => {
        if (performance.now() - startedAtMs > STREAM_LIFETIME_MS) {
          clearInterval(timer);
          controller.close();
          return;
        }
        push().catch(() => undefined);
      }, STREAM_INTERVAL_MS);
    },
    cancel: () => clearInterval(timer),
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
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
