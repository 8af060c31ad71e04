import type { ContactEngine } from "./contact-engine";
import { evaluate } from "./evaluate";
import { contactTimeZone } from "./interpreter";
import {
  inactivityDueMs,
  lastActivityMs,
  nextAnniversary,
  syntheticTrigger,
  triggerConditionHolds,
} from "./triggers";

/**
 * What an inactivity trigger remembers: the last matching activity (kept here because the
 * event history is bounded) and the activity it last fired for (to fire once per silence).
 */
interface InactivityMemory {
  lastActivityMs: number | null;
  firedForMs: number | null;
}

function readInactivity(state: string | null): InactivityMemory {
  if (!state) return { lastActivityMs: null, firedForMs: null };
  const parsed = JSON.parse(state) as Partial<InactivityMemory>;
  return { lastActivityMs: parsed.lastActivityMs ?? null, firedForMs: parsed.firedForMs ?? null };
}

function latest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Meta key holding the segments the contact was last seen in, to mirror only changes. */
const SEGMENTS_META_KEY = "segments";

/**
 * Keeps one timer per date and inactivity trigger, enters runs when a condition or segment
 * trigger crosses, and mirrors segment membership changes. Each contact schedules its own
 * dates: nothing scans all contacts.
 */
export function syncContactTriggers(engine: ContactEngine): void {
  const { state, catalog, nowMs } = engine.deps;
  const profile = state.readProfile();
  if (!profile) return;
  const contact = engine.snapshot;
  const armed = new Set<string>();

  for (const { scenario, version } of catalog.scenarios) {
    const trigger = scenario.trigger;
    const timeZone = contactTimeZone(scenario, contact);
    const current = state.readTriggerState(scenario.id);
    const args = { scenario, contact, segments: catalog.segments, nowMs };

    switch (trigger.type) {
      case "date": {
        armed.add(scenario.id);
        // A timer already due is the alarm's to fire; recomputing it now would skip it.
        if (current?.dueAtMs != null && current.dueAtMs <= nowMs) break;
        const next = nextAnniversary({
          value: contact.traits[trigger.trait],
          offset: trigger.offset,
          at: trigger.at,
          timeZone,
          afterMs: nowMs,
        });
        if (!next) state.deleteTriggerState(scenario.id);
        else {
          state.writeTriggerState({
            scenarioId: scenario.id,
            kind: "date",
            dueAtMs: next.dueAtMs,
            state: next.key,
          });
        }
        break;
      }
      case "inactivity": {
        armed.add(scenario.id);
        const memory = readInactivity(current?.state ?? null);
        const lastMs = latest(memory.lastActivityMs, lastActivityMs(args));
        const sinceMs = lastMs ?? profile.firstSeenMs;
        const dueAtMs =
          memory.firedForMs === sinceMs ? null : inactivityDueMs({ scenario, sinceMs, timeZone });
        state.writeTriggerState({
          scenarioId: scenario.id,
          kind: "inactivity",
          dueAtMs,
          state: JSON.stringify({ ...memory, lastActivityMs: lastMs }),
        });
        break;
      }
      case "condition":
      case "segment": {
        armed.add(scenario.id);
        const holds = triggerConditionHolds(args) === true;
        const was = current?.state === "true";
        state.writeTriggerState({
          scenarioId: scenario.id,
          kind: trigger.type,
          dueAtMs: null,
          state: String(holds),
        });
        const onExit = trigger.type === "segment" && trigger.on === "exit";
        const crossed = onExit ? was && !holds : !was && holds;
        if (!crossed) break;
        const name =
          trigger.type === "condition"
            ? "Condition Met"
            : onExit
              ? "Segment Exited"
              : "Segment Entered";
        const event = syntheticTrigger({
          id: `${trigger.type}-${nowMs}`,
          name,
          properties: trigger.type === "segment" ? { segment: trigger.segment } : {},
          atMs: nowMs,
          nowMs,
        });
        engine.tryEnter({ scenario, version, trigger: event });
        break;
      }
      case "event":
      case "campaign":
      case "api":
        break;
    }
  }

  for (const trigger of state.triggerStates()) {
    if (!armed.has(trigger.scenarioId)) state.deleteTriggerState(trigger.scenarioId);
  }
  mirrorSegments(engine);
}

/** Sends the segments the contact entered or left since last time to the D1 mirror. */
function mirrorSegments(engine: ContactEngine): void {
  const { state, catalog, nowMs, contactId } = engine.deps;
  const ctx = { contact: engine.snapshot, nowMs, timeZone: "UTC", segments: catalog.segments };
  const now = Object.keys(catalog.segments)
    .filter((segmentId) => evaluate({ segment: segmentId }, ctx))
    .sort();
  const before = JSON.parse(state.readMeta(SEGMENTS_META_KEY) ?? "[]") as string[];
  const entered = now.filter((id) => !before.includes(id));
  const left = before.filter((id) => !now.includes(id) && id in catalog.segments);
  if (entered.length === 0 && left.length === 0) return;

  state.writeMeta(SEGMENTS_META_KEY, JSON.stringify(now));
  for (const [segmentIds, member] of [
    [entered, true],
    [left, false],
  ] as const) {
    for (const segmentId of segmentIds) {
      engine.emit(
        `${contactId}:segment:${segmentId}`,
        { kind: "segment-membership", contactId, segmentId, member, atMs: nowMs },
        true,
      );
    }
  }
}

/** Fires the date and inactivity triggers whose time has come. */
export function fireDueTriggers(engine: ContactEngine): void {
  const { state, catalog, nowMs } = engine.deps;
  const profile = state.readProfile();
  if (!profile) return;
  for (const scenarioId of state.dueTriggers(nowMs)) {
    const entry = catalog.scenarios.find((item) => item.scenario.id === scenarioId);
    const current = state.readTriggerState(scenarioId);
    if (!entry || !current) {
      state.deleteTriggerState(scenarioId);
      continue;
    }
    const { scenario, version } = entry;
    const trigger = scenario.trigger;
    if (trigger.type === "date") {
      const event = syntheticTrigger({
        id: `date-${current.state}`,
        name: "Date Reached",
        properties: {
          trait: trigger.trait,
          date: engine.snapshot.traits[trigger.trait] ?? null,
          year: current.state,
        },
        atMs: current.dueAtMs ?? nowMs,
        nowMs,
      });
      state.writeTriggerState({ scenarioId, kind: "date", dueAtMs: null, state: current.state });
      engine.tryEnter({ scenario, version, trigger: event });
    } else if (trigger.type === "inactivity") {
      const args = { scenario, contact: engine.snapshot, segments: catalog.segments, nowMs };
      const memory = readInactivity(current.state);
      const lastMs = latest(memory.lastActivityMs, lastActivityMs(args));
      const sinceMs = lastMs ?? profile.firstSeenMs;
      const timeZone = contactTimeZone(scenario, engine.snapshot);
      const dueAtMs = inactivityDueMs({ scenario, sinceMs, timeZone });
      if (dueAtMs === null || dueAtMs > nowMs) continue;
      state.writeTriggerState({
        scenarioId,
        kind: "inactivity",
        dueAtMs: null,
        state: JSON.stringify({ lastActivityMs: lastMs, firedForMs: sinceMs }),
      });
      const event = syntheticTrigger({
        id: `inactivity-${sinceMs}`,
        name: "Inactivity Reached",
        properties: { event: trigger.event, since: new Date(sinceMs).toISOString() },
        atMs: dueAtMs,
        nowMs,
      });
      engine.tryEnter({ scenario, version, trigger: event });
    } else {
      state.deleteTriggerState(scenarioId);
    }
  }
}
