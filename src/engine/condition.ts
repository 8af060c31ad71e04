import { z } from "zod";
import { isZeroDuration, parseDuration } from "./duration";

export const COMPARISON_OPS = [
  "eq",
  "ne",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "not_in",
  "contains",
  "starts_with",
  "exists",
  "not_exists",
] as const;

export type ComparisonOp = (typeof COMPARISON_OPS)[number];

export const ENGAGEMENT_KINDS = ["delivered", "opened", "clicked", "bounced"] as const;

export type EngagementKind = (typeof ENGAGEMENT_KINDS)[number];

/** A value read from the run at evaluation time: `trigger.properties.*`, `contact.*`. */
export interface ValueRef {
  ref: string;
}

export type Scalar = string | number | boolean | null;

export type ConditionValue = Scalar | Scalar[] | ValueRef;

export type Condition =
  | { trait: string; op: ComparisonOp; value?: ConditionValue }
  | { property: string; op: ComparisonOp; value?: ConditionValue }
  | {
      event: string;
      within?: string;
      count?: { op: ComparisonOp; value: number };
      where?: Condition;
    }
  | { segment: string }
  | { engagement: { step: string; kind: EngagementKind } }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

/** A non-empty, well-formed ISO 8601 duration, signed (`-P7D`, a date trigger's offset) or not. */
export const signedDurationSchema = z
  .string()
  .min(1, "duration is empty")
  .refine((text) => parseDuration(text) !== null, {
    message: "not an ISO 8601 duration (e.g. PT4H, P1D)",
  });

/** A duration that counts forward from now (waits, windows, delays): a sign is refused. */
export const durationSchema = signedDurationSchema
  .refine((text) => !/^[+-]/.test(text), {
    message: "must not be signed (e.g. P7D, not -P7D)",
  })
  .refine(
    (text) => {
      const duration = parseDuration(text);
      return duration === null || !isZeroDuration(duration);
    },
    { message: "must be longer than zero" },
  );

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const valueSchema: z.ZodType<ConditionValue> = z.union([
  scalarSchema,
  z.array(scalarSchema),
  z.strictObject({
    ref: z
      .string()
      .regex(/^(trigger|contact|event)\.[\w.-]+$/, "must start with trigger., contact. or event."),
  }),
]);

const opSchema = z.enum(COMPARISON_OPS);

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({ trait: z.string().min(1), op: opSchema, value: valueSchema.optional() }),
    z.strictObject({ property: z.string().min(1), op: opSchema, value: valueSchema.optional() }),
    z.strictObject({
      event: z.string().min(1),
      within: durationSchema.optional(),
      count: z.strictObject({ op: opSchema, value: z.number() }).optional(),
      where: conditionSchema.optional(),
    }),
    z.strictObject({ segment: z.string().min(1) }),
    z.strictObject({
      engagement: z.strictObject({ step: z.string().min(1), kind: z.enum(ENGAGEMENT_KINDS) }),
    }),
    z.strictObject({ all: z.array(conditionSchema).min(1) }),
    z.strictObject({ any: z.array(conditionSchema).min(1) }),
    z.strictObject({ not: conditionSchema }),
  ]),
);
