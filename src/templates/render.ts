/**
 * Liquid for messages: one engine per flavour per isolate, a bounded cache of parsed sources,
 * and `renderMessage`, which yields a whole message or an error, never a half-rendered one.
 */
import { Liquid, type Template as LiquidTemplate } from "liquidjs";
import type { CompiledTemplate } from "./compile";

/** HTML output escapes every value so a trait cannot inject markup; text output is verbatim. */
export type LiquidFlavour = "html" | "text";

/** Largest rendered message, all parts together, in UTF-8 bytes. */
export const MAX_RENDERED_BYTES = 512 * 1024;

const PARSE_LIMIT_CHARS = 1024 * 1024;
const RENDER_LIMIT_MS = 1000;
const MEMORY_LIMIT = 10_000_000;
const CACHE_MAX_ENTRIES = 200;
const CACHE_MAX_CHARS = 4 * 1024 * 1024;

/** Partials need a store we do not have; refusing the tags at parse time rejects them at save. */
const PARTIAL_TAGS = ["include", "render", "layout"] as const;

function createEngine(flavour: LiquidFlavour): Liquid {
  const engine = new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    // An empty in-memory store keeps Liquid away from any file system.
    templates: {},
    outputEscape: flavour === "html" ? "escape" : undefined,
    parseLimit: PARSE_LIMIT_CHARS,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
  });
  for (const name of PARTIAL_TAGS) {
    engine.registerTag(name, {
      parse() {
        throw new Error(`the ${name} tag is not supported: templates have no partials`);
      },
      render() {
        return "";
      },
    });
  }
  engine.registerFilter("money", formatMoney);
  return engine;
}

/**
 * `{{ 24.9 | money: 'GBP' }}` → "£24.90". Liquid has no currency filter and arithmetic alone
 * cannot pad pence; an unknown currency code throws, which fails the render.
 */
function formatMoney(amount: unknown, currency: unknown, locale: unknown = "en-GB"): string {
  const value = typeof amount === "number" ? amount : Number(amount);
  if (amount === null || amount === undefined || amount === "" || Number.isNaN(value)) return "";
  return new Intl.NumberFormat(String(locale), {
    style: "currency",
    currency: String(currency),
  }).format(value);
}

const engines = new Map<LiquidFlavour, Liquid>();

function engineFor(flavour: LiquidFlavour): Liquid {
  let engine = engines.get(flavour);
  if (!engine) {
    engine = createEngine(flavour);
    engines.set(flavour, engine);
  }
  return engine;
}

/** Least-recently-used parse results, bounded by entries and by source characters held. */
const parsed = new Map<string, { templates: LiquidTemplate[]; chars: number }>();
let parsedChars = 0;

function remember(key: string, templates: LiquidTemplate[]): void {
  const chars = key.length;
  if (chars > CACHE_MAX_CHARS) return;
  parsed.set(key, { templates, chars });
  parsedChars += chars;
  for (const [oldest, entry] of parsed) {
    if (parsed.size <= CACHE_MAX_ENTRIES && parsedChars <= CACHE_MAX_CHARS) break;
    parsed.delete(oldest);
    parsedChars -= entry.chars;
  }
}

export type LiquidParseResult =
  { ok: true; templates: LiquidTemplate[] } | { ok: false; error: string };

/** Why a Liquid source does not parse (unknown filter, broken tag), or null; nothing cached. */
export function checkLiquid(source: string, flavour: LiquidFlavour): string | null {
  try {
    engineFor(flavour).parse(source);
    return null;
  } catch (error) {
    return errorMessage(error);
  }
}

/** Parses a Liquid source once per isolate; unknown filters and broken tags are errors. */
export function parseLiquid(source: string, flavour: LiquidFlavour): LiquidParseResult {
  const key = `${flavour}\u0000${source}`;
  const hit = parsed.get(key);
  if (hit) {
    // Re-inserting moves the entry to the young end of the Map's insertion order.
    parsed.delete(key);
    parsed.set(key, hit);
    return { ok: true, templates: hit.templates };
  }

  try {
    const templates = engineFor(flavour).parse(source);
    remember(key, templates);
    return { ok: true, templates };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

export interface MessageContext {
  /** Traits of the contact, plus its `id`. */
  contact: Record<string, unknown>;
  /** The event that started the run. */
  trigger: unknown;
  /** The event that woke the current step, if any. */
  event: unknown;
  run: unknown;
  message: {
    unsubscribe_url?: string;
    view_url?: string;
    links?: Record<string, string>;
  };
}

export type RenderResult =
  | {
      ok: true;
      subject: string | null;
      html: string | null;
      text: string | null;
      title: string | null;
      url: string | null;
    }
  | { ok: false; error: string };

type RenderedPart = "subject" | "html" | "text" | "title" | "url";

const PART_FLAVOUR: Record<RenderedPart, LiquidFlavour> = {
  subject: "text",
  html: "html",
  text: "text",
  title: "text",
  url: "text",
};

/** Header-like parts must stay on one line: a newline from a trait would break the header. */
const SINGLE_LINE_PARTS: ReadonlySet<RenderedPart> = new Set(["subject", "title", "url"]);

/** Renders every part of a compiled template; any failure fails the whole message. */
export async function renderMessage(input: {
  template: CompiledTemplate;
  context: MessageContext;
}): Promise<RenderResult> {
  const { template, context } = input;
  const scope = {
    contact: context.contact,
    trigger: context.trigger,
    event: context.event,
    run: context.run,
    message: context.message,
  };
  const rendered: Record<RenderedPart, string | null> = {
    subject: null,
    html: null,
    text: null,
    title: null,
    url: null,
  };
  let totalBytes = 0;

  for (const part of Object.keys(PART_FLAVOUR) as RenderedPart[]) {
    const source = template[part];
    if (source === null) continue;

    const flavour = PART_FLAVOUR[part];
    const parse = parseLiquid(source, flavour);
    if (!parse.ok) return { ok: false, error: `${part}: ${parse.error}` };

    let output: string;
    try {
      output = String(await engineFor(flavour).render(parse.templates, scope));
    } catch (error) {
      return { ok: false, error: `${part}: ${errorMessage(error)}` };
    }
    if (SINGLE_LINE_PARTS.has(part)) output = output.replace(/\s+/g, " ").trim();

    totalBytes += utf8Bytes(output);
    if (totalBytes > MAX_RENDERED_BYTES) {
      return { ok: false, error: `${part}: rendered message exceeds ${MAX_RENDERED_BYTES} bytes` };
    }
    rendered[part] = output;
  }

  return { ok: true, ...rendered };
}

const encoder = new TextEncoder();

function utf8Bytes(value: string): number {
  return encoder.encode(value).byteLength;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
