/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { compileTemplate, type CompiledTemplate } from "../src/templates/compile";
import { MAX_RENDERED_BYTES, renderMessage, type MessageContext } from "../src/templates/render";
import { parseTemplate, type Template } from "../src/templates/template";

const demoTemplates = import.meta.glob<Record<string, unknown>>("../demo/templates/*.json", {
  eager: true,
  import: "default",
});

const sharedScenarios = import.meta.glob<unknown>("../../shared/scenarios/*.json", {
  eager: true,
  import: "default",
});

function context(overrides: Partial<MessageContext> = {}): MessageContext {
  return {
    contact: { id: `contact-${crypto.randomUUID()}` },
    trigger: { event: "Test", properties: {} },
    event: null,
    run: { id: `run-${crypto.randomUUID()}` },
    message: { unsubscribe_url: "https://example.com/u/abc?t=1&s=2" },
    ...overrides,
  };
}

async function compile(doc: unknown): Promise<CompiledTemplate> {
  const parsed = parseTemplate(doc);
  if (!parsed.ok) throw new Error(`invalid template: ${JSON.stringify(parsed.issues)}`);
  const compiled = await compileTemplate(parsed.value);
  if (!compiled.ok)
    throw new Error(`template does not compile: ${JSON.stringify(compiled.issues)}`);
  return compiled.value;
}

async function compileIssues(doc: Template): Promise<Array<{ path: string; message: string }>> {
  const compiled = await compileTemplate(doc);
  return compiled.ok ? [] : compiled.issues;
}

function sentTemplateIds(document: unknown): string[] {
  const scenarios = Array.isArray(document) ? document : [document];
  return scenarios.flatMap((scenario: { steps?: Record<string, Record<string, unknown>> }) =>
    Object.values(scenario.steps ?? {})
      .filter((step) => step.type === "send")
      .map((step) => String(step.template)),
  );
}

describe("template documents", () => {
  it("rejects broken documents with the path of the faulty field", () => {
    const cases: Array<{ doc: unknown; path: string }> = [
      { doc: { id: "a", channel: "email", mjml: "<mjml></mjml>" }, path: "subject" },
      { doc: { id: "a", channel: "email", subject: "Hi" }, path: "mjml" },
      {
        doc: { id: "a", channel: "email", subject: "Hi", mjml: "<mjml/>", html: "<p/>" },
        path: "mjml",
      },
      { doc: { id: "a", channel: "sms" }, path: "text" },
      { doc: { id: "a", channel: "sms", text: "Hi", title: "Hey" }, path: "title" },
      { doc: { id: "Bad Id", channel: "sms", text: "Hi" }, path: "id" },
      { doc: { id: "a", channel: "fax", text: "Hi" }, path: "channel" },
      { doc: { id: "a", channel: "sms", text: "Hi", colour: "red" }, path: "(root)" },
    ];

    for (const { doc, path } of cases) {
      const result = parseTemplate(doc);
      expect(result.ok, JSON.stringify(doc)).toBe(false);
      if (!result.ok) expect(result.issues.map((issue) => issue.path)).toContain(path);
    }
  });

  it("accepts a push with title and url", () => {
    const result = parseTemplate({
      id: "push-ok",
      channel: "push",
      text: "Hello",
      title: "Hi",
      url: "https://example.com",
    });

    expect(result.ok).toBe(true);
  });
});

describe("demo templates", () => {
  it("compiles every demo template and renders it for a contact without traits", async () => {
    const files = Object.entries(demoTemplates);
    expect(files.length).toBeGreaterThanOrEqual(18);

    for (const [file, doc] of files) {
      const parsed = parseTemplate(doc);
      expect(parsed.ok ? [] : parsed.issues, file).toEqual([]);
      if (!parsed.ok) continue;
      expect(file).toContain(`/${parsed.value.id}.json`);
      const compiled = await compileTemplate(parsed.value);
      expect(compiled.ok ? [] : compiled.issues, file).toEqual([]);
      if (!compiled.ok) continue;
      const rendered = await renderMessage({ template: compiled.value, context: context() });
      expect(rendered.ok ? "" : rendered.error, file).toBe("");
    }
  });

  it("has a template for every template a shared scenario sends", () => {
    const available = new Set(Object.values(demoTemplates).map((doc) => doc.id));
    const referenced = Object.values(sharedScenarios).flatMap(sentTemplateIds);
    expect(referenced.length).toBeGreaterThan(0);

    expect(referenced.filter((id) => !available.has(id))).toEqual([]);
  });
});

describe("rendering", () => {
  const order = {
    event: "Order Completed",
    properties: {
      order_id: "A-1042",
      total: 33,
      products: [
        { sku: "TEE-RED-M", name: "Red tee, M", quantity: 2, price: 12.5 },
        { sku: "TEA-01", name: "Tea & biscuits", quantity: 1, price: 8 },
      ],
    },
  };

  it("renders the order confirmation from MJML with Liquid inside", async () => {
    const template = await compile(
      demoTemplates["../demo/templates/order-confirmation-email.json"],
    );

    const result = await renderMessage({
      template,
      context: context({ contact: { id: "c1", first_name: "Ada" }, trigger: order }),
    });

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.subject).toBe("Thank you for your order A-1042");
    expect(result.html).toContain("Thank you for your order A-1042");
    expect(result.html).toContain("Hi Ada,");
    expect(result.html).toMatch(/Red tee, M.*TEE-RED-M.*2.*£25\.00/s);
    expect(result.html).toContain("Tea &amp; biscuits");
    expect(result.html).toContain("£33.00");
    expect(result.html).not.toMatch(/\{\{|\{%/);
    expect(result.text).toContain("2 x Red tee, M (TEE-RED-M): £25.00\n");
    expect(result.text).toContain("1 x Tea & biscuits (TEA-01): £8.00\n");
    expect(result.text).toContain("Total: £33.00");
  });

  it("keeps Liquid loops and defaults written inside mj-text and mj-table", async () => {
    const template = await compile({
      id: "mjml-liquid",
      channel: "email",
      subject: "Hi",
      mjml: `<mjml><mj-body><mj-section><mj-column>
        <mj-text>Hello {{ contact.first_name | default: 'there' }}</mj-text>
        <mj-text>{% for line in trigger.properties.products %}<p>[{{ line.sku }}]</p>{% endfor %}</mj-text>
        <mj-table>{% for line in trigger.properties.products %}<tr><td>({{ line.name }})</td></tr>{% endfor %}</mj-table>
      </mj-column></mj-section></mj-body></mjml>`,
    });

    const result = await renderMessage({ template, context: context({ trigger: order }) });

    expect(result.ok && result.html).toContain("Hello there");
    expect(result.ok && result.html).toMatch(/\[TEE-RED-M\].*\[TEA-01\]/s);
    expect(result.ok && result.html).toMatch(/\(Red tee, M\).*\(Tea &amp; biscuits\)/s);
  });

  it("renders a missing variable as empty and uses a default when given", async () => {
    const template = await compile({
      id: "missing-vars",
      channel: "sms",
      text: "Hi {{ contact.first_name | default: 'there' }}[{{ contact.nickname }}][{{ event.properties.x }}]",
    });

    const anonymous = await renderMessage({ template, context: context() });
    const named = await renderMessage({
      template,
      context: context({ contact: { id: "c2", first_name: "Ada" } }),
    });

    expect(anonymous).toMatchObject({ ok: true, text: "Hi there[][]" });
    expect(named).toMatchObject({ ok: true, text: "Hi Ada[][]" });
  });

  it("escapes trait values in HTML but not in text", async () => {
    const template = await compile({
      id: "escaping",
      channel: "email",
      subject: "For {{ contact.first_name }}",
      html: '<p>{{ contact.first_name }}</p><a href="{{ message.unsubscribe_url }}">u</a>',
      text: "{{ contact.first_name }}",
    });

    const result = await renderMessage({
      template,
      context: context({ contact: { id: "c3", first_name: "<b>Bo</b>" } }),
    });

    expect(result).toMatchObject({
      ok: true,
      subject: "For <b>Bo</b>",
      html: '<p>&lt;b&gt;Bo&lt;/b&gt;</p><a href="https://example.com/u/abc?t=1&amp;s=2">u</a>',
      text: "<b>Bo</b>",
    });
  });

  it("keeps a subject on one line whatever the traits contain", async () => {
    const template = await compile({
      id: "one-line",
      channel: "email",
      subject: "Hello {{ contact.first_name }}",
      html: "<p>x</p>",
    });

    const result = await renderMessage({
      template,
      context: context({ contact: { id: "c4", first_name: "Ada\r\nBcc: x@example.com" } }),
    });

    expect(result).toMatchObject({ ok: true, subject: "Hello Ada Bcc: x@example.com" });
  });

  it("fails the whole message when a filter throws at render time", async () => {
    const template = await compile({
      id: "render-failure",
      channel: "email",
      subject: "Your code",
      html: "<p>{{ trigger.properties.code | url_decode }}</p>",
      text: "Total {{ trigger.properties.total | money: trigger.properties.currency }}",
    });

    const badUri = await renderMessage({
      template,
      context: context({
        trigger: { properties: { code: "%E0%A4%A", total: 1, currency: "GBP" } },
      }),
    });
    const badCurrency = await renderMessage({
      template,
      context: context({ trigger: { properties: { code: "ok", total: 1, currency: "POUNDS" } } }),
    });

    expect(badUri).toEqual({ ok: false, error: expect.stringMatching(/^html: URI malformed/) });
    expect(badCurrency).toEqual({ ok: false, error: expect.stringMatching(/^text: .*currency/i) });
  });

  it("fails a message whose rendered size is over the limit", async () => {
    const template = await compile({ id: "too-big", channel: "sms", text: "{{ contact.bio }}" });

    const fits = await renderMessage({
      template,
      context: context({ contact: { id: "c5", bio: "x".repeat(MAX_RENDERED_BYTES) } }),
    });
    const tooBig = await renderMessage({
      template,
      context: context({ contact: { id: "c5", bio: "é".repeat(MAX_RENDERED_BYTES / 2 + 1) } }),
    });

    expect(fits.ok).toBe(true);
    expect(tooBig).toEqual({ ok: false, error: expect.stringContaining("exceeds") });
  });
});

describe("save-time checks", () => {
  const email = (parts: Partial<Template>): Template => ({
    id: "save-check",
    channel: "email",
    subject: "Hello",
    html: "<p>Hi</p>",
    ...parts,
  });

  it("rejects an unknown filter with the path of the part", async () => {
    expect(await compileIssues(email({ subject: "{{ contact.first_name | shout }}" }))).toEqual([
      { path: "subject", message: expect.stringContaining("undefined filter: shout") },
    ]);
    expect(
      await compileIssues(
        email({
          html: undefined,
          mjml: "<mjml><mj-body><mj-section><mj-column><mj-text>{{ x | nope }}</mj-text></mj-column></mj-section></mj-body></mjml>",
        }),
      ),
    ).toEqual([{ path: "mjml", message: expect.stringContaining("undefined filter: nope") }]);
  });

  it("rejects a broken tag and the partial tags with the path of the part", async () => {
    const broken = await compileIssues(email({ text: "{% if contact.vip %}VIP" }));
    const partial = await compileIssues(email({ html: "{% include 'footer' %}" }));

    expect(broken.map((issue) => issue.path)).toEqual(["text"]);
    expect(partial).toEqual([{ path: "html", message: expect.stringContaining("no partials") }]);
  });

  it("rejects invalid MJML with path mjml", async () => {
    const issues = await compileIssues(
      email({ html: undefined, mjml: "<mjml><mj-body><mj-bogus>x</mj-bogus></mj-body></mjml>" }),
    );

    expect(issues).toEqual([{ path: "mjml", message: expect.stringContaining("mj-bogus") }]);
  });
});
