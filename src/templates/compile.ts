/**
 * Save-time compilation: MJML becomes HTML once, and every Liquid part is parsed so an unknown
 * filter or a broken tag is refused with the path of the part instead of failing at send time.
 */
import type { Channel, FieldIssue } from "../engine/scenario";
import { checkLiquid, type LiquidFlavour } from "./render";
import type { Template } from "./template";

/** What a send needs from a template: Liquid sources only, MJML already turned into HTML. */
export interface CompiledTemplate {
  id: string;
  channel: Channel;
  topic: string | null;
  subject: string | null;
  html: string | null;
  text: string | null;
  title: string | null;
  url: string | null;
}

export type CompileResult =
  { ok: true; value: CompiledTemplate } | { ok: false; issues: FieldIssue[] };

interface MjmlError {
  line?: number;
  message?: string;
  formattedMessage?: string;
}

type Mjml2Html = (
  mjml: string,
  options: { validationLevel: "soft"; keepComments: boolean },
) => Promise<{ html: string; errors?: MjmlError[] }>;

let mjmlModule: Promise<Mjml2Html> | null = null;

/**
 * mjml-browser's webpack runtime finds the global object through `window` (workerd forbids
 * `new Function`), so `window` exists only while the module is evaluated.
 */
function loadMjml(): Promise<Mjml2Html> {
  mjmlModule ??= (async () => {
    const scope = globalThis as { window?: unknown };
    scope.window = globalThis;
    try {
      // @ts-expect-error -- mjml-browser ships no types; Mjml2Html above declares what we use.
      const module = (await import("mjml-browser")) as { default: Mjml2Html };
      return module.default;
    } finally {
      delete scope.window;
    }
  })().catch((error: unknown) => {
    // A failed load is not cached, so the next save tries again.
    mjmlModule = null;
    throw error;
  });
  return mjmlModule;
}

type MjmlResult = { ok: true; html: string } | { ok: false; issues: FieldIssue[] };

async function compileMjml(source: string): Promise<MjmlResult> {
  const mjml2html = await loadMjml();

  try {
    const { html, errors = [] } = await mjml2html(source, {
      validationLevel: "soft",
      keepComments: false,
    });
    if (errors.length > 0) {
      return {
        ok: false,
        issues: errors.map((error) => ({
          path: "mjml",
          message: error.formattedMessage ?? error.message ?? "invalid MJML",
        })),
      };
    }
    return { ok: true, html };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, issues: [{ path: "mjml", message }] };
  }
}

/** Compiles a parsed template document; issues name the part (`subject`, `mjml`, …) at fault. */
export async function compileTemplate(doc: Template): Promise<CompileResult> {
  const issues: FieldIssue[] = [];
  const check = (path: string, source: string, flavour: LiquidFlavour): boolean => {
    const error = checkLiquid(source, flavour);
    if (error !== null) issues.push({ path, message: `Liquid: ${error}` });
    return error === null;
  };

  let html: string | null = doc.html ?? null;
  if (doc.html !== undefined) check("html", doc.html, "html");
  // The MJML source is checked first so Liquid errors point at lines the author wrote.
  if (doc.mjml !== undefined && check("mjml", doc.mjml, "html")) {
    const mjml = await compileMjml(doc.mjml);
    if (!mjml.ok) issues.push(...mjml.issues);
    else if (check("mjml", mjml.html, "html")) html = mjml.html;
  }
  if (doc.subject !== undefined) check("subject", doc.subject, "text");
  if (doc.text !== undefined) check("text", doc.text, "text");
  if (doc.title !== undefined) check("title", doc.title, "text");
  if (doc.url !== undefined) check("url", doc.url, "text");

  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    value: {
      id: doc.id,
      channel: doc.channel,
      topic: doc.topic ?? null,
      subject: doc.subject ?? null,
      html,
      text: doc.text ?? null,
      title: doc.title ?? null,
      url: doc.url ?? null,
    },
  };
}
