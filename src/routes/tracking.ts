import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono, type Context } from "hono";
import { outbox } from "../db/schema";
import { contactStub } from "../../durable-objects/contact-stub";
import type { Env } from "../env";
import { verifyToken } from "../tracking/token";

type AppEnv = { Bindings: Env };

/** A transparent 1×1 GIF. */
const PIXEL = Uint8Array.from(
  atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"),
  (char) => char.charCodeAt(0),
);

const NO_STORE = {
  "cache-control": "no-store, no-cache, must-revalidate, private, max-age=0",
  pragma: "no-cache",
  expires: "0",
};

function signals(c: Context<AppEnv>) {
  return {
    method: c.req.method,
    userAgent: c.req.header("user-agent") ?? null,
    ip:
      c.req.header("cf-connecting-ip") ??
      c.req.header("x-forwarded-for")?.split(",")[0]?.trim() ??
      null,
    atMs: Date.now(),
    machineHint: false,
    source: "tracking",
  };
}

const notFound = (c: Context<AppEnv>) =>
  c.json({ success: false, error: "not_found", message: "unknown or altered link" }, 404);

export const trackingRoutes = new Hono<AppEnv>();

trackingRoutes.on(["GET", "HEAD"], "/t/o/:token", async (c) => {
  const claims = await verifyToken(c.env.TRACKING_SECRET, c.req.param("token"), "open");
  if (!claims) return notFound(c);
  await contactStub(c.env, claims.contactId).recordEngagement({
    ...signals(c),
    messageId: claims.messageId,
    kind: "opened",
    url: null,
  });
  return c.body(PIXEL, 200, { ...NO_STORE, "content-type": "image/gif" });
});

trackingRoutes.on(["GET", "HEAD"], "/t/c/:token", async (c) => {
  const claims = await verifyToken(c.env.TRACKING_SECRET, c.req.param("token"), "click");
  const url = claims?.url;
  if (!claims || !url || !/^https?:\/\//i.test(url)) return notFound(c);
  await contactStub(c.env, claims.contactId).recordEngagement({
    ...signals(c),
    messageId: claims.messageId,
    kind: "clicked",
    url,
  });
  return c.redirect(url, 302);
});

/** "View in browser": the email as the local outbox stored it. */
trackingRoutes.get("/v/:token", async (c) => {
  const claims = await verifyToken(c.env.TRACKING_SECRET, c.req.param("token"), "view");
  if (!claims) return notFound(c);
  const stored = await drizzle(c.env.DB)
    .select({ html: outbox.html })
    .from(outbox)
    .where(eq(outbox.id, claims.messageId))
    .get();
  if (!stored?.html) {
    return c.json(
      { success: false, error: "not_found", message: "this message has no web copy" },
      404,
    );
  }
  // The stored email is shown on the dashboard's origin: sandboxed, it runs no script and
  // reaches no storage of that origin.
  return c.html(stored.html, 200, { ...NO_STORE, "content-security-policy": "sandbox" });
});

const PAGE_STYLE = [
  "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}",
  "button{font:inherit;padding:.6rem 1.2rem;margin:.3rem 0;cursor:pointer}",
].join("");

function page(title: string, body: string): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<meta name="robots" content="noindex"><title>${title}</title>`,
    `<style>${PAGE_STYLE}</style></head><body>${body}</body></html>`,
  ].join("");
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** Shows a confirmation page; never unsubscribes by itself, since scanners follow links. */
trackingRoutes.get("/u/:token", async (c) => {
  const claims = await verifyToken(c.env.TRACKING_SECRET, c.req.param("token"), "unsubscribe");
  if (!claims) return notFound(c);
  const topic = escapeHtml(claims.topic ?? "these messages");
  const action = escapeHtml(c.req.path);
  return c.html(
    page(
      "Unsubscribe",
      [
        `<h1>Unsubscribe</h1><p>Stop receiving <strong>${topic}</strong> emails?</p>`,
        `<form method="post" action="${action}">`,
        `<button type="submit" name="scope" value="topic">Unsubscribe from ${topic}</button><br>`,
        '<button type="submit" name="scope" value="channel">',
        "Unsubscribe from all marketing email</button></form>",
      ].join(""),
    ),
    200,
    NO_STORE,
  );
});

/** One-click unsubscribe (RFC 8058) and the confirmation form: takes effect at once. */
trackingRoutes.post("/u/:token", async (c) => {
  const claims = await verifyToken(c.env.TRACKING_SECRET, c.req.param("token"), "unsubscribe");
  if (!claims) return notFound(c);
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const oneClick = form["List-Unsubscribe"] === "One-Click";
  const wholeChannel = form.scope === "channel";
  const topic = wholeChannel ? `channel:${claims.channel ?? "email"}` : (claims.topic ?? "all");
  await contactStub(c.env, claims.contactId).setConsent({
    topic,
    status: "unsubscribed",
    source: oneClick ? "list-unsubscribe-one-click" : "unsubscribe-page",
  });
  const what = wholeChannel ? "marketing email" : escapeHtml(claims.topic ?? "these messages");
  return c.html(
    page("Unsubscribed", `<h1>Done</h1><p>You will no longer receive ${what}.</p>`),
    200,
    NO_STORE,
  );
});
