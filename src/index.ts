import { Hono } from "hono";
import { ContactObject } from "../durable-objects/contact-object";
import type { Env } from "./env";

const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ ok: true }));
app.get("/mjml", async (c) => {
  const g = globalThis as { window?: unknown };
  g.window = globalThis;
  const m = (await import("mjml-browser")).default;
  delete g.window;
  return c.html((await m("<mjml><mj-body><mj-text>Hi</mj-text></mj-body></mjml>")).html);
});

export { ContactObject };

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
