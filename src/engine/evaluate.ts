import type { ComparisonOp, Condition, ConditionValue } from "./condition";
import type { ContactEvent, ContactSnapshot } from "./contact";
import { addIsoDuration } from "./duration";

/** What a condition may read. `now` is always passed in; the core never reads a clock. */
export interface EvaluationContext {
  contact: ContactSnapshot;
  nowMs: number;
  timeZone: string;
  /** Segment id → its condition, for `{ segment }`. */
  segments: Record<string, Condition>;
  /** The run's starting event and sent messages, for refs and engagement conditions. */
  trigger?: ContactEvent | null;
  sentMessages?: Record<string, string>;
  /** The properties a `{ property }` condition reads (an event being matched). */
  properties?: Record<string, unknown>;
}

/** Reads `a.b.c` from a nested record. */
export function readPath(source: unknown, path: string): unknown {
  let value: unknown = source;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function resolveValue(value: ConditionValue | undefined, ctx: EvaluationContext): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const [root, ...rest] = value.ref.split(".");
  const path = rest.join(".");
  switch (root) {
    case "trigger":
      return readPath(ctx.trigger, path);
    case "contact":
      return readPath({ id: ctx.contact.id, ...ctx.contact.traits }, path);
    case "event":
      return readPath({ properties: ctx.properties }, path);
    default:
      return undefined;
  }
}

function asComparable(value: unknown): number | string | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return undefined;
}

function order(left: unknown, right: unknown): number | null {
  const a = asComparable(left);
  const b = asComparable(right);
  if (a === undefined || b === undefined) return null;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const na = Number(a);
  const nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function looselyEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left === "number" || typeof right === "number") {
    return order(left, right) === 0;
  }
  return false;
}

/** Applies a comparison operator; a missing value satisfies only `not_exists`, `ne`, `not_in`. */
export function compare(actual: unknown, op: ComparisonOp, expected: unknown): boolean {
  switch (op) {
    case "exists":
      return actual !== undefined && actual !== null && actual !== "";
    case "not_exists":
      return actual === undefined || actual === null || actual === "";
    case "eq":
      return looselyEqual(actual, expected);
    case "ne":
      return !looselyEqual(actual, expected);
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      if (actual === undefined || actual === null) return false;
      const diff = order(actual, expected);
      if (diff === null) return false;
      if (op === "gt") return diff > 0;
      if (op === "gte") return diff >= 0;
      if (op === "lt") return diff < 0;
      return diff <= 0;
    }
    case "in":
      return Array.isArray(expected) && expected.some((item) => looselyEqual(actual, item));
    case "not_in":
      return !Array.isArray(expected) || !expected.some((item) => looselyEqual(actual, item));
    case "contains":
      if (typeof actual === "string") return actual.includes(String(expected));
      if (Array.isArray(actual)) return actual.some((item) => looselyEqual(item, expected));
      return false;
    case "starts_with":
      return typeof actual === "string" && actual.startsWith(String(expected));
  }
}

/** The events of the history that match a name, a window and a property filter. */
export function matchingEvents(input: {
  ctx: EvaluationContext;
  event: string;
  within?: string;
  where?: Condition;
}): ContactEvent[] {
  const { ctx, event, within, where } = input;
  const sinceMs = within
    ? addIsoDuration({ atMs: ctx.nowMs, iso: `-${within}`, timeZone: ctx.timeZone })
    : Number.NEGATIVE_INFINITY;
  return ctx.contact.events.filter(
    (candidate) =>
      candidate.name === event &&
      candidate.atMs >= sinceMs &&
      candidate.atMs <= ctx.nowMs &&
      (!where || evaluate(where, { ...ctx, properties: candidate.properties })),
  );
}

/** Evaluates a condition; unknown segments are false (and reported by validation on save). */
export function evaluate(condition: Condition, ctx: EvaluationContext, segmentDepth = 0): boolean {
  if ("all" in condition) return condition.all.every((c) => evaluate(c, ctx, segmentDepth));
  if ("any" in condition) return condition.any.some((c) => evaluate(c, ctx, segmentDepth));
  if ("not" in condition) return !evaluate(condition.not, ctx, segmentDepth);
  if ("trait" in condition) {
    const actual = readPath(ctx.contact.traits, condition.trait);
    return compare(actual, condition.op, resolveValue(condition.value, ctx));
  }
  if ("property" in condition) {
    const actual = readPath(ctx.properties ?? {}, condition.property);
    return compare(actual, condition.op, resolveValue(condition.value, ctx));
  }
  if ("event" in condition) {
    const count = matchingEvents({ ctx, ...condition }).length;
    const rule = condition.count ?? { op: "gte" as const, value: 1 };
    return compare(count, rule.op, rule.value);
  }
  if ("segment" in condition) {
    const segment = ctx.segments[condition.segment];
    if (!segment || segmentDepth > 8) return false;
    return evaluate(segment, ctx, segmentDepth + 1);
  }
  const { step, kind } = condition.engagement;
  const messageId = ctx.sentMessages?.[step];
  if (!messageId) return false;
  return ctx.contact.engagements.some(
    (e) => e.messageId === messageId && e.kind === kind && !e.machine && e.atMs <= ctx.nowMs,
  );
}
