import { z } from "zod";
import type { Condition } from "../engine/condition";
import type { IngestCall } from "../engine/contact-engine";
import { durationSchema } from "../engine/condition";
import { addIsoDuration } from "../engine/duration";
import type { FrequencyCaps } from "../engine/send-rules";
import { contactTimeZone } from "../engine/interpreter";
import type { Scenario } from "../engine/scenario";
import { formatLocal, resolveTimeZone } from "../engine/time-zone";
import type { SendJob } from "../queue/jobs";
import type { ContactEvent } from "../engine/contact";
import { MemoryContactState } from "./memory-state";
import { isSend, runOnVirtualClock, type TimedInput } from "./virtual-clock";

const isoSchema = z
  .string()
  .refine((text) => !Number.isNaN(Date.parse(text)), { message: "is not an ISO 8601 date-time" });

/** The body of `POST /api/scenarios/:id/simulate`. */
export const simulationRequestSchema = z.strictObject({
  contact: z
    .strictObject({
      id: z.string().min(1).max(256).optional(),
      traits: z.record(z.string(), z.unknown()).default({}),
      timezone: z.string().min(1).optional(),
    })
    .default({ traits: {} }),
  start: isoSchema.optional(),
  horizon: durationSchema.default("P90D"),
  events: z
    .array(
      z.strictObject({
        at: isoSchema,
        event: z.string().min(1),
        properties: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .max(1_000)
    .default([]),
  engagements: z
    .array(
      z.strictObject({
        at: isoSchema,
        step: z.string().min(1),
        kind: z.enum(["delivered", "opened", "clicked", "bounced"]),
      }),
    )
    .max(1_000)
    .default([]),
  traits: z
    .array(z.strictObject({ at: isoSchema, traits: z.record(z.string(), z.unknown()) }))
    .max(1_000)
    .default([]),
});

export type SimulationRequest = z.infer<typeof simulationRequestSchema>;

export interface TimelineEntry {
  /** UTC instant, ISO 8601. */
  at: string;
  /** The same instant on the contact's clock, with its offset. */
  local: string;
  kind: string;
  step: string | null;
  detail: string;
  message?: {
    id: string;
    channel: string;
    template: string;
    subject: string | null;
    suppressed: string | null;
    /** When the message was handed to the queue (a timeout path runs after its grace). */
    queuedAt: string;
  };
}

export interface SimulationResult {
  scenarioId: string;
  version: number;
  timeZone: string;
  start: string;
  end: string;
  timeline: TimelineEntry[];
  summary: {
    entered: number;
    messages: number;
    suppressed: number;
    converted: boolean;
    endedBy: string | null;
  };
}

/** Renders a message's subject for the timeline; null when the template has none. */
export type SubjectRenderer = (input: {
  job: SendJob;
  traits: Record<string, unknown>;
  trigger: ContactEvent | null;
  event: ContactEvent | null;
}) => Promise<string | null>;

/**
 * Runs a scenario for one contact on a virtual clock with the contact engine, and returns what
 * would happen: entry, each step, each message with its subject, waits and why they ended, the
 * exit. Months of scenario time take milliseconds.
 */
export async function simulateScenario(input: {
  scenario: Scenario;
  version: number;
  request: SimulationRequest;
  segments: Record<string, Condition>;
  caps?: FrequencyCaps;
  nowMs: number;
  renderSubject?: SubjectRenderer;
}): Promise<SimulationResult> {
  const { scenario, version, request } = input;
  const contactId = request.contact.id ?? "simulated-contact";
  const startMs = request.start ? Date.parse(request.start) : input.nowMs;
  const traits = {
    ...request.contact.traits,
    ...(request.contact.timezone ? { timezone: request.contact.timezone } : {}),
  };
  const timeZone = resolveTimeZone([traits.timezone, scenario.timezone]);
  const endMs = addIsoDuration({ atMs: startMs, iso: request.horizon, timeZone });

  let callCount = 0;
  const call = (
    atMs: number,
    partial: Partial<IngestCall> & Pick<IngestCall, "type" | "name">,
  ): IngestCall => ({
    // Deterministic ids: the same request gives the same run and message ids.
    messageId: `sim-${(callCount += 1)}-${partial.name.replace(/\W+/g, "-")}`,
    traits: null,
    properties: {},
    timestampMs: atMs,
    timeZone: null,
    ...partial,
  });
  const inputs: TimedInput[] = [
    {
      atMs: startMs,
      kind: "call",
      call: call(startMs, { type: "identify", name: "identify", traits }),
    },
    ...request.traits.map((change) => {
      const atMs = Date.parse(change.at);
      return {
        atMs,
        kind: "call" as const,
        call: call(atMs, { type: "identify", name: "identify", traits: change.traits }),
      };
    }),
    ...request.events.map((event) => {
      const atMs = Date.parse(event.at);
      return {
        atMs,
        kind: "call" as const,
        call: call(atMs, { type: "track", name: event.event, properties: event.properties }),
      };
    }),
    ...request.engagements.map((e) => ({
      atMs: Date.parse(e.at),
      kind: "engagement" as const,
      step: e.step,
      engagement: e.kind,
    })),
  ];

  const state = new MemoryContactState();
  const steps = runOnVirtualClock({
    state,
    contactId,
    catalog: { scenarios: [{ scenario, version }], segments: input.segments },
    caps: input.caps,
    inputs,
    endMs,
  });

  const zoneOf = () => contactTimeZone(scenario, state.snapshot(contactId));
  const at = (ms: number) => ({ at: new Date(ms).toISOString(), local: formatLocal(ms, zoneOf()) });
  const timeline: TimelineEntry[] = [];
  let messages = 0;
  let suppressed = 0;
  for (const step of steps) {
    if (step.ignored) {
      timeline.push({ ...at(step.atMs), kind: "ignored", step: null, detail: step.ignored });
    }
    const sends = step.output.jobs.map(({ job }) => job).filter(isSend);
    for (const entry of step.output.trace) {
      const send =
        entry.kind === "send" || entry.kind === "suppress"
          ? sends.find((job) => job.stepId === entry.stepId)
          : undefined;
      const line: TimelineEntry = {
        ...at(step.atMs),
        kind: entry.kind,
        step: entry.stepId,
        detail: entry.detail,
      };
      if (send) {
        const now = state.snapshot(contactId);
        const context = {
          job: send,
          traits: now.traits,
          trigger: send.runId ? (state.readRun(send.runId)?.trigger ?? null) : null,
          event: now.events.find((event) => event.id === send.eventId) ?? null,
        };
        line.message = {
          id: send.messageId,
          channel: send.channel,
          template: send.templateId,
          subject:
            input.renderSubject && !send.suppressedReason
              ? await input.renderSubject(context)
              : null,
          suppressed: send.suppressedReason,
          queuedAt: new Date(send.createdAtMs).toISOString(),
        };
        if (send.suppressedReason) suppressed += 1;
        else messages += 1;
      }
      timeline.push(line);
    }
  }

  const runs = state.readRuns();
  const last = runs.at(-1);
  return {
    scenarioId: scenario.id,
    version,
    timeZone: zoneOf(),
    start: new Date(startMs).toISOString(),
    end: new Date(endMs).toISOString(),
    timeline,
    summary: {
      entered: runs.length,
      messages,
      suppressed,
      converted: runs.some((run) => run.convertedAtMs !== null),
      endedBy:
        last?.endReason ?? (last?.status === "active" ? "still running at the horizon" : null),
    },
  };
}
