import { env, SELF } from "cloudflare:test";
import { Liquid } from "liquidjs";
import mjml2html from "mjml-browser";
import { Temporal } from "temporal-polyfill";
import { describe, expect, it } from "vitest";

describe("workerd libraries", () => {
  it("answers health", async () => {
    const res = await SELF.fetch("http://x/health");
    expect(await res.json()).toEqual({ ok: true });
  });

  it("renders liquid, mjml and zoned time", async () => {
    const liquid = new Liquid();
    expect(await liquid.parseAndRender("hi {{ a | default: 'x' }}", {})).toBe("hi x");
    const out = await mjml2html("<mjml><mj-body><mj-text>Hello</mj-text></mj-body></mjml>");
    expect(out.html).toContain("Hello");
    const zdt = Temporal.ZonedDateTime.from("2026-03-28T09:00[Europe/Paris]").add({ days: 1 });
    expect(zdt.hour).toBe(9);
    const row = await env.DB.prepare("select 1 as one").first();
    expect(row).toEqual({ one: 1 });
  });
});
