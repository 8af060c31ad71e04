/**
 * Backtests a scenario over a real data set on virtual time, with the engine the contact object
 * runs, and prints per ISO week how many contacts entered, got each message and reached the goal.
 *
 *   npm run backtest -- <scenario> <data> [--horizon P30D] [--json]
 *
 * <scenario> is a scenario JSON file, or the id of one in ../shared/scenarios/ or demo/scenarios/.
 * <data> is a file or folder of UCI day files (*.csv) and OTTO sessions (*.jsonl).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseDuration } from "../src/engine/duration";
import type { Condition } from "../src/engine/condition";
import { parseScenario, type Scenario } from "../src/engine/scenario";
import { parseSegment } from "../src/definitions/segment";
import { ottoCallsFromJsonl } from "../src/replay/otto";
import { retailCallsFromCsv, type SegmentCall } from "../src/replay/retail";
import {
  backtest,
  DEFAULT_BACKTEST_HORIZON,
  type BacktestCounts,
  type BacktestReport,
} from "../src/simulator/backtest";

const REPO_ROOT = path.resolve(import.meta.dirname, "..");
const SCENARIO_FOLDERS = [
  path.join(REPO_ROOT, "../shared/scenarios"),
  path.join(REPO_ROOT, "demo/scenarios"),
];
const SEGMENTS_FILE = path.join(REPO_ROOT, "../shared/scenarios/segments.json");
const USAGE =
  "usage: npm run backtest -- <scenario file or id> <data folder or file>" +
  " [--horizon P30D] [--json]";

/** A backtest that cannot start; the CLI prints the message alone and exits 1. */
export class BacktestError extends Error {
  override name = "BacktestError";
}

interface Arguments {
  scenario: string;
  data: string;
  horizon: string;
  json: boolean;
}

/** The arguments, or null when they do not fit the usage line. */
function parseArguments(argv: string[]): Arguments | null {
  const positional: string[] = [];
  let horizon = DEFAULT_BACKTEST_HORIZON;
  let json = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === "--json") json = true;
    else if (arg === "--horizon") {
      const value = argv[++index];
      if (value === undefined) return null;
      horizon = value;
    } else if (arg.startsWith("--horizon=")) horizon = arg.slice("--horizon=".length);
    else if (arg.startsWith("--")) return null;
    else positional.push(arg);
  }
  const [scenario, data] = positional;
  if (positional.length !== 2 || scenario === undefined || data === undefined) return null;
  return { scenario, data, horizon, json };
}

/** A path to a JSON file, else the file in the scenario folders whose `id` is the argument. */
async function scenarioFile(given: string): Promise<string> {
  const asPath = path.resolve(given);
  if (await isFile(asPath)) return asPath;

  const matches: string[] = [];
  for (const folder of SCENARIO_FOLDERS) {
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names.filter((candidate) => candidate.endsWith(".json")).sort()) {
      const filePath = path.join(folder, name);
      const document = await readJson(filePath).catch(() => null);
      if (isRecord(document) && document.id === given) matches.push(filePath);
    }
  }
  if (matches.length === 1) return matches[0] as string;
  const folders = SCENARIO_FOLDERS.map((folder) => path.relative(process.cwd(), folder));
  if (matches.length === 0) {
    throw new BacktestError(`no scenario file or id "${given}" (looked in ${folders.join(", ")})`);
  }
  throw new BacktestError(`scenario id "${given}" is in several files: ${matches.join(", ")}`);
}

async function loadScenario(filePath: string): Promise<Scenario> {
  const parsed = parseScenario(await readJson(filePath));
  if (parsed.ok) return parsed.value;
  const lines = parsed.issues.map((issue) => `  ${issue.path}: ${issue.message}`);
  throw new BacktestError(`${filePath} is not a valid scenario:\n${lines.join("\n")}`);
}

/** The shared segment documents, validated, as the conditions audiences refer to. */
async function loadSegments(): Promise<Record<string, Condition>> {
  if (!(await isFile(SEGMENTS_FILE))) return {};
  const documents = await readJson(SEGMENTS_FILE);
  if (!Array.isArray(documents)) throw new BacktestError(`${SEGMENTS_FILE}: expected an array`);

  const segments: Record<string, Condition> = {};
  for (const [index, document] of documents.entries()) {
    const parsed = parseSegment(document);
    if (!parsed.ok) {
      const lines = parsed.issues.map((issue) => `  ${index}.${issue.path}: ${issue.message}`);
      throw new BacktestError(`${SEGMENTS_FILE} has an invalid segment:\n${lines.join("\n")}`);
    }
    segments[parsed.value.id] = parsed.value.condition;
  }
  return segments;
}

/** Every call of the data files, in time order; equal instants keep file and call order. */
async function loadCalls(given: string): Promise<{ files: number; calls: SegmentCall[] }> {
  const absolute = path.resolve(given);
  const stats = await stat(absolute).catch(() => {
    throw new BacktestError(`${given}: no such file or folder`);
  });
  const filePaths = stats.isFile()
    ? [absolute]
    : (await readdir(absolute, { recursive: true }))
        .filter(isDataFile)
        .sort()
        .map((entry) => path.join(absolute, entry));
  if (filePaths.length === 0 || !filePaths.every(isDataFile)) {
    throw new BacktestError(`${given}: expected *.csv (UCI) or *.jsonl (OTTO) files`);
  }

  const calls: SegmentCall[] = [];
  for (const filePath of filePaths) {
    const text = await readFile(filePath, "utf8");
    try {
      calls.push(
        ...(filePath.endsWith(".csv") ? retailCallsFromCsv(text) : ottoCallsFromJsonl(text)),
      );
    } catch (error) {
      throw new BacktestError(`${filePath}: ${(error as Error).message}`);
    }
  }
  const timed = calls.map((call) => ({ call, atMs: Date.parse(call.timestamp) }));
  timed.sort((a, b) => a.atMs - b.atMs);
  return { files: filePaths.length, calls: timed.map(({ call }) => call) };
}

function isDataFile(filePath: string): boolean {
  return filePath.endsWith(".csv") || filePath.endsWith(".jsonl");
}

async function isFile(filePath: string): Promise<boolean> {
  return (await stat(filePath).catch(() => null))?.isFile() ?? false;
}

async function readJson(filePath: string): Promise<unknown> {
  const text = await readFile(filePath, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BacktestError(`${filePath}: not valid JSON (${(error as Error).message})`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The weekly table: one row per week, one column per send step, then totals. */
export function formatReport(report: BacktestReport): string {
  const steps = report.sendSteps.map((step) => step.stepId);
  const withSuppressed = steps.filter((stepId) => (report.totals.suppressed[stepId] ?? 0) > 0);
  const header = [
    "week",
    "seen",
    "entered",
    "runs",
    ...steps,
    ...withSuppressed.map((stepId) => `${stepId} suppressed`),
    "goals",
  ];
  const row = (label: string, counts: BacktestCounts) =>
    [
      label,
      ...[counts.contactsSeen, counts.contactsEntered, counts.entries],
      ...steps.map((stepId) => counts.sent[stepId] ?? 0),
      ...withSuppressed.map((stepId) => counts.suppressed[stepId] ?? 0),
      counts.goals,
    ].map(String);
  const rows = [
    header,
    ...report.weeks.map((week) => row(week.week, week)),
    row("total", report.totals),
  ];
  const widths = header.map((_, column) =>
    Math.max(...rows.map((cells) => cells[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  ");

  const legend = report.sendSteps.map(
    (step) => `${step.stepId} = ${step.channel} ${step.template}`,
  );
  return [
    `${report.scenarioId} v${report.version} · ${report.calls} calls` +
      ` · ${report.firstEventAt ?? "-"} .. ${report.lastEventAt ?? "-"} + ${report.horizon}`,
    "seen: contacts with a call · entered: contacts that started a run · " +
      "runs: runs started · goals: runs converted",
    legend.length > 0 ? `messages per send step: ${legend.join(", ")}` : "no send step",
    "",
    ...rows.map(line),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const args = parseArguments(argv);
  if (!args) {
    console.error(USAGE);
    return 2;
  }
  if (parseDuration(args.horizon) === null || args.horizon.startsWith("-")) {
    console.error("backtest: --horizon must be an unsigned ISO 8601 duration such as P30D");
    return 2;
  }

  try {
    const startedAtMs = performance.now();
    const scenarioPath = await scenarioFile(args.scenario);
    const scenario = await loadScenario(scenarioPath);
    const segments = await loadSegments();
    const { files, calls } = await loadCalls(args.data);
    const loadedAtMs = performance.now();

    const report = backtest({ scenario, segments, calls, horizon: args.horizon });
    const doneAtMs = performance.now();

    const seconds = (ms: number) => (ms / 1000).toFixed(2);
    const timing =
      `loaded in ${seconds(loadedAtMs - startedAtMs)} s · ` +
      `simulated in ${seconds(doneAtMs - loadedAtMs)} s · ` +
      `total ${seconds(doneAtMs - startedAtMs)} s`;
    if (args.json) {
      // stdout stays pure JSON for pipes; the timing goes to stderr.
      console.log(JSON.stringify(report, null, 2));
      console.error(timing);
      return 0;
    }
    console.log(`scenario ${path.relative(process.cwd(), scenarioPath)} · data ${files} file(s)`);
    console.log(formatReport(report));
    console.log(`\n${timing}`);
    return 0;
  } catch (error) {
    if (error instanceof BacktestError) {
      console.error(`backtest: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
