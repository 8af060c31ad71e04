import { z } from "zod";
import {
  conditionSchema,
  durationSchema,
  ENGAGEMENT_KINDS,
  signedDurationSchema,
} from "./condition";
import { isValidTimeZone } from "./time-zone";

export const CHANNELS = ["email", "sms", "push", "webhook", "internal"] as const;

export type Channel = (typeof CHANNELS)[number];

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

export type Weekday = (typeof WEEKDAYS)[number];

const idSchema = z.string().regex(/^[a-z0-9-]{1,64}$/, "must match [a-z0-9-]{1,64}");

const RESERVED_STEP_IDS = new Set(["__proto__", "constructor", "prototype"]);

const stepIdSchema = z
  .string()
  .min(1)
  .max(64)
  .refine((id) => !RESERVED_STEP_IDS.has(id), { message: "is a reserved name" });

const localTimeSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a local time HH:MM (00:00 to 23:59)");

const daysSchema = z.array(z.enum(WEEKDAYS)).min(1);

const eventFilterSchema = z.strictObject({
  event: z.string().min(1),
  where: conditionSchema.optional(),
});

const triggerSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("event"),
    event: z.string().min(1),
    where: conditionSchema.optional(),
  }),
  z.strictObject({
    type: z.literal("segment"),
    segment: z.string().min(1),
    on: z.enum(["enter", "exit"]).optional(),
  }),
  z.strictObject({
    type: z.literal("date"),
    trait: z.string().min(1),
    offset: signedDurationSchema.optional(),
    at: localTimeSchema.optional(),
  }),
  z.strictObject({ type: z.literal("condition"), condition: conditionSchema }),
  z.strictObject({
    type: z.literal("inactivity"),
    event: z.string().min(1),
    for: durationSchema,
    where: conditionSchema.optional(),
  }),
  z.strictObject({ type: z.literal("campaign"), campaign: z.string().min(1) }),
  z.strictObject({ type: z.literal("api") }),
]);

const sendStepSchema = z.strictObject({
  type: z.literal("send"),
  channel: z.enum(CHANNELS),
  template: z.string().min(1),
  to: z.string().min(1).optional(),
  next: stepIdSchema,
});

const waitStepSchema = z
  .strictObject({
    type: z.literal("wait"),
    duration: durationSchema.optional(),
    until: z.strictObject({ at: localTimeSchema, days: daysSchema.optional() }).optional(),
    next: stepIdSchema,
  })
  .refine((step) => (step.duration === undefined) !== (step.until === undefined), {
    message: "a wait needs exactly one of duration or until",
    path: ["duration"],
  });

const waitForStepSchema = z
  .strictObject({
    type: z.literal("wait_for"),
    event: eventFilterSchema.optional(),
    engagement: z.strictObject({ step: stepIdSchema, kind: z.enum(ENGAGEMENT_KINDS) }).optional(),
    within: durationSchema,
    then: stepIdSchema,
    timeout: stepIdSchema,
  })
  .refine((step) => (step.event === undefined) !== (step.engagement === undefined), {
    message: "a wait_for needs exactly one of event or engagement",
    path: ["event"],
  });

const branchStepSchema = z.strictObject({
  type: z.literal("branch"),
  cases: z.array(z.strictObject({ if: conditionSchema, next: stepIdSchema })).min(1),
  else: stepIdSchema,
});

const splitStepSchema = z.strictObject({
  type: z.literal("split"),
  variants: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        weight: z.number().positive(),
        next: stepIdSchema,
      }),
    )
    .min(1),
});

const updateStepSchema = z
  .strictObject({
    type: z.literal("update"),
    set: z.record(z.string(), z.unknown()).optional(),
    increment: z.record(z.string(), z.number()).optional(),
    next: stepIdSchema,
  })
  .refine((step) => step.set !== undefined || step.increment !== undefined, {
    message: "an update needs set or increment",
    path: ["set"],
  });

const exitStepSchema = z.strictObject({ type: z.literal("exit") });

const stepSchema = z.discriminatedUnion("type", [
  sendStepSchema,
  waitStepSchema,
  waitForStepSchema,
  branchStepSchema,
  splitStepSchema,
  updateStepSchema,
  exitStepSchema,
]);

const reentrySchema = z.discriminatedUnion("policy", [
  z.strictObject({ policy: z.literal("once") }),
  z.strictObject({ policy: z.literal("always") }),
  z.strictObject({ policy: z.literal("after"), after: durationSchema }),
]);

const scenarioShape = z.strictObject({
  id: idSchema,
  name: z.string().min(1).max(200),
  trigger: triggerSchema,
  audience: conditionSchema.optional(),
  consent: z.string().min(1),
  reentry: reentrySchema,
  exit: z.array(eventFilterSchema).optional(),
  goal: z
    .strictObject({
      event: z.string().min(1),
      where: conditionSchema.optional(),
      within: durationSchema,
    })
    .optional(),
  sendWindow: z
    .strictObject({ from: localTimeSchema, to: localTimeSchema, days: daysSchema.optional() })
    .refine((window) => window.from !== window.to, {
      message: "an empty window never opens: from and to must differ",
      path: ["to"],
    })
    .optional(),
  timezone: z
    .string()
    .min(1)
    .refine((zone) => isValidTimeZone(zone), {
      message: "is not an IANA time zone (e.g. Europe/Paris)",
    })
    .optional(),
  /** What a marketing send does when the contact's frequency cap is reached (default wait). */
  frequencyCap: z.enum(["wait", "drop"]).optional(),
  /** How late a send may still go out after a pause (default P1D); later ones are dropped. */
  maxLateness: durationSchema.optional(),
  start: stepIdSchema,
  steps: z.record(stepIdSchema, stepSchema),
});

export type Scenario = z.infer<typeof scenarioShape>;
export type Step = Scenario["steps"][string];
export type StepOf<T extends Step["type"]> = Extract<Step, { type: T }>;
export type Trigger = Scenario["trigger"];
export type EventFilter = z.infer<typeof eventFilterSchema>;

/** Where each step may go next, with the field that names the target. */
export function stepTargets(step: Step): Array<{ field: (string | number)[]; target: string }> {
  switch (step.type) {
    case "send":
    case "wait":
    case "update":
      return [{ field: ["next"], target: step.next }];
    case "wait_for":
      return [
        { field: ["then"], target: step.then },
        { field: ["timeout"], target: step.timeout },
      ];
    case "branch":
      return [
        ...step.cases.map((c, i) => ({ field: ["cases", i, "next"], target: c.next })),
        { field: ["else"], target: step.else },
      ];
    case "split":
      return step.variants.map((v, i) => ({ field: ["variants", i, "next"], target: v.next }));
    case "exit":
      return [];
  }
}

function isWaiting(step: Step): boolean {
  return step.type === "wait" || step.type === "wait_for";
}

/** Graph rules a per-field schema cannot see: targets exist, all reachable, no loop without a wait. */
function checkGraph(scenario: Scenario, ctx: z.RefinementCtx): void {
  const steps = scenario.steps;
  if (!Object.hasOwn(steps, scenario.start)) {
    ctx.addIssue({
      code: "custom",
      path: ["start"],
      message: `names no step: "${scenario.start}"`,
    });
    return;
  }

  let broken = false;
  for (const [id, step] of Object.entries(steps)) {
    for (const { field, target } of stepTargets(step)) {
      if (!Object.hasOwn(steps, target)) {
        broken = true;
        ctx.addIssue({
          code: "custom",
          path: ["steps", id, ...field],
          message: `names no step: "${target}"`,
        });
      }
    }
    if (step.type === "wait_for" && step.engagement) {
      const sent = steps[step.engagement.step];
      if (sent?.type !== "send") {
        ctx.addIssue({
          code: "custom",
          path: ["steps", id, "engagement", "step"],
          message: `must name a send step: "${step.engagement.step}"`,
        });
      }
    }
  }
  if (broken) return;

  const reachable = new Set<string>([scenario.start]);
  const queue = [scenario.start];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const { target } of stepTargets(steps[id] as Step)) {
      if (!reachable.has(target)) {
        reachable.add(target);
        queue.push(target);
      }
    }
  }
  for (const id of Object.keys(steps)) {
    if (!reachable.has(id)) {
      ctx.addIssue({ code: "custom", path: ["steps", id], message: "is unreachable from start" });
    }
  }

  const loop = findLoopWithoutWait(steps);
  if (loop) {
    ctx.addIssue({
      code: "custom",
      path: ["steps", loop[0] as string],
      message: `loop without a wait: ${loop.join(" -> ")}`,
    });
  }
}

/** A cycle among steps that run at once (no wait or wait_for in it), or null. */
function findLoopWithoutWait(steps: Record<string, Step>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];

  const visit = (id: string): string[] | null => {
    const step = steps[id];
    if (!step || isWaiting(step) || state.get(id) === "done") return null;
    if (state.get(id) === "open") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "open");
    path.push(id);
    for (const { target } of stepTargets(step)) {
      const loop = visit(target);
      if (loop) return loop;
    }
    path.pop();
    state.set(id, "done");
    return null;
  };

  for (const id of Object.keys(steps)) {
    const loop = visit(id);
    if (loop) return loop;
  }
  return null;
}

export const scenarioSchema = scenarioShape.superRefine(checkGraph);

export interface FieldIssue {
  path: string;
  message: string;
}

/** Turns zod issues into `{ path: "steps.reminder.next", message }` entries for 4xx bodies. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** Validates a scenario document; returns issues with a path to each fault. */
export function parseScenario(input: unknown): ParseResult<Scenario> {
  const result = scenarioSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toFieldIssues(result.error) };
}
