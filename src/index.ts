import { Hono } from "hono";
import { ContactObject } from "../durable-objects/contact-object";
import type { Env } from "./env";
import { resumeStalledCampaigns, startDueCampaigns } from "./campaigns/scheduler";
import { errorResponse } from "./http/errors";
import type { Job } from "./queue/jobs";
import { consumeBatch } from "./queue/consumer";
import { adminRoutes } from "./routes/admin";
import { ingestRoutes } from "./routes/ingest";
import { trackingRoutes } from "./routes/tracking";
import { webhookRoutes } from "./routes/webhooks";
import { loggerFor } from "./shared/logger";

const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ ok: true }));
app.route("/v1", ingestRoutes);
app.route("/api", adminRoutes);
app.route("/", trackingRoutes);
app.route("/webhooks", webhookRoutes);
app.notFound((c) => c.json({ success: false, error: "not_found", message: "no such route" }, 404));
app.onError((error, c) => errorResponse(error, c, loggerFor(c.env)));

export { ContactObject };

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await startDueCampaigns(env, controller.scheduledTime);
    await resumeStalledCampaigns(env, controller.scheduledTime);
  },
  async queue(batch, env, _ctx) {
    await consumeBatch(batch, {
      env,
      logger: loggerFor(env),
      nowMs: () => Date.now(),
    });
  },
} satisfies ExportedHandler<Env, Job>;
