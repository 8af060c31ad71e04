/**
 * Loads the demo into a running Parcours through its admin API: the demo templates, the shared
 * segments, then the shared and demo scenarios, each saved and published. A definition whose
 * published version already equals the file is left alone, so loading twice changes nothing.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

const REPO_ROOT = path.resolve(import.meta.dirname, "..");
const DEMO_DIR = path.join(REPO_ROOT, "demo");
const SEGMENTS_FILE = "segments.json";
const REQUEST_TIMEOUT_MS = 15_000;

type DefinitionKind = "template" | "segment" | "scenario";

const PLURALS: Record<DefinitionKind, string> = {
  template: "templates",
  segment: "segments",
  scenario: "scenarios",
};

export interface LoadDemoOptions {
  /** Where the engine answers, e.g. `http://localhost:8787`. */
  baseUrl: string;
  adminKey: string;
  /** The shared folder holding `scenarios/*.json` and `scenarios/segments.json`. */
  sharedDir: string;
  /** Receives one line per rejected definition; silent when omitted. */
  log?: (line: string) => void;
}

/** What happened to one definition file. */
export type DemoOutcome =
  | { kind: DefinitionKind; id: string; source: string; status: "published"; version: number }
  | { kind: DefinitionKind; id: string; source: string; status: "unchanged"; version: number }
  | {
      kind: DefinitionKind;
      id: string;
      source: string;
      status: "rejected";
      step: "save" | "publish";
      httpStatus: number;
      body: string;
    };

export interface DemoSummary {
  outcomes: DemoOutcome[];
  published: number;
  unchanged: number;
  rejected: number;
}

interface DefinitionFile {
  kind: DefinitionKind;
  source: string;
  document: { id: string } & Record<string, unknown>;
}

/**
 * Saves and publishes every demo definition in dependency order (templates and segments before
 * the scenarios naming them). A rejection is reported and the load goes on; an unreachable
 * engine or a wrong admin key throws.
 */
export async function loadDemo(options: LoadDemoOptions): Promise<DemoSummary> {
  const files = await demoFiles(options.sharedDir);

  const outcomes: DemoOutcome[] = [];
  for (const file of files) {
    const outcome = await loadDefinition(options, file);
    if (outcome.status === "rejected") {
      options.log?.(
        `rejected ${outcome.kind} "${outcome.id}" (${outcome.source}) at ${outcome.step}: ` +
          `${outcome.httpStatus} ${outcome.body}`,
      );
    }
    outcomes.push(outcome);
  }

  const count = (status: DemoOutcome["status"]) =>
    outcomes.filter((outcome) => outcome.status === status).length;
  return {
    outcomes,
    published: count("published"),
    unchanged: count("unchanged"),
    rejected: count("rejected"),
  };
}

async function demoFiles(sharedDir: string): Promise<DefinitionFile[]> {
  const sharedScenariosDir = path.join(sharedDir, "scenarios");
  const templates = await jsonFiles(path.join(DEMO_DIR, "templates"));
  const segmentsFile = path.join(sharedScenariosDir, SEGMENTS_FILE);
  const segments = (await readJson(segmentsFile)) as unknown[];
  if (!Array.isArray(segments)) throw new Error(`${segmentsFile}: expected an array of segments`);
  const scenarios = [
    ...(await jsonFiles(sharedScenariosDir)).filter(
      (file) => path.basename(file) !== SEGMENTS_FILE,
    ),
    ...(await jsonFiles(path.join(DEMO_DIR, "scenarios"))),
  ];

  return [
    ...(await Promise.all(templates.map((file) => definitionFile("template", file)))),
    ...segments.map((document, index) =>
      asDefinition("segment", `${path.relative(REPO_ROOT, segmentsFile)}[${index}]`, document),
    ),
    ...(await Promise.all(scenarios.map((file) => definitionFile("scenario", file)))),
  ];
}

async function jsonFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => path.join(dir, name));
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

async function definitionFile(kind: DefinitionKind, file: string): Promise<DefinitionFile> {
  return asDefinition(kind, path.relative(REPO_ROOT, file), await readJson(file));
}

function asDefinition(kind: DefinitionKind, source: string, document: unknown): DefinitionFile {
  const id = (document as { id?: unknown } | null)?.id;
  if (typeof id !== "string" || id === "") throw new Error(`${source}: the ${kind} has no "id"`);
  // Checked just above: an object with a string id; the engine validates the rest.
  return { kind, source, document: document as DefinitionFile["document"] };
}

async function loadDefinition(
  options: LoadDemoOptions,
  file: DefinitionFile,
): Promise<DemoOutcome> {
  const { kind, source, document } = file;
  const base = `/api/${PLURALS[kind]}`;
  const id = document.id;

  const current = await publishedDocument(options, `${base}/${encodeURIComponent(id)}`);
  if (current && sameJson(current.document, document)) {
    return { kind, id, source, status: "unchanged", version: current.version };
  }

  const saved = await adminCall(options, { method: "POST", path: base, body: document });
  if (!saved.ok) {
    return { kind, id, source, status: "rejected", step: "save", ...rejection(saved) };
  }
  const published = await adminCall(options, {
    method: "POST",
    path: `${base}/${encodeURIComponent(id)}/publish`,
  });
  if (!published.ok) {
    return { kind, id, source, status: "rejected", step: "publish", ...rejection(published) };
  }
  const { version } = JSON.parse(published.body) as { version: number };
  return { kind, id, source, status: "published", version };
}

/** The version in force and its document, or null when the definition was never published. */
async function publishedDocument(
  options: LoadDemoOptions,
  definitionPath: string,
): Promise<{ version: number; document: unknown } | null> {
  const detail = await adminCall(options, { method: "GET", path: definitionPath });
  if (detail.status === 404) return null;
  if (!detail.ok) throw new Error(`GET ${definitionPath} answered ${detail.status} ${detail.body}`);
  const { currentVersion } = JSON.parse(detail.body) as { currentVersion: number | null };
  if (currentVersion === null) return null;

  const versionPath = `${definitionPath}/versions/${currentVersion}`;
  const version = await adminCall(options, { method: "GET", path: versionPath });
  if (!version.ok) throw new Error(`GET ${versionPath} answered ${version.status} ${version.body}`);
  return {
    version: currentVersion,
    document: (JSON.parse(version.body) as { document: unknown }).document,
  };
}

interface AdminAnswer {
  ok: boolean;
  status: number;
  body: string;
}

/** One admin request; a refused admin key throws since nothing after it could succeed. */
async function adminCall(
  options: LoadDemoOptions,
  request: { method: "GET" | "POST"; path: string; body?: unknown },
): Promise<AdminAnswer> {
  const response = await fetch(new URL(request.path, options.baseUrl), {
    method: request.method,
    headers: {
      authorization: `Bearer ${options.adminKey}`,
      ...(request.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.text();
  if (response.status === 401) {
    throw new Error(
      `the engine refused the admin key (${request.method} ${request.path}): ${body}`,
    );
  }
  return { ok: response.ok, status: response.status, body };
}

function rejection(answer: AdminAnswer): { httpStatus: number; body: string } {
  return { httpStatus: answer.status, body: answer.body };
}

/** Deep equality of two JSON values, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}
