/**
 * The campaign document: a broadcast to a segment, either of one template or as the entry into
 * a scenario whose `campaign` trigger names it. Shape rules live here; whether the segment,
 * template and scenario are published is checked by the routes when the campaign is saved.
 */
import { z } from "zod";
import type { CampaignChannel } from "../db/schema";
import { parseDuration } from "../engine/duration";
import { toFieldIssues, type ParseResult } from "../engine/scenario";

export const CAMPAIGN_CHANNELS = ["email", "sms", "push"] as const satisfies CampaignChannel[];

const HOUR_MS = 3_600_000;

/** A campaign that may start a week late is no longer a campaign but a surprise. */
const MAX_LATENESS_MS = 7 * 24 * HOUR_MS;

const idSchema = z.string().regex(/^[a-z0-9-]{1,64}$/, "must match [a-z0-9-]{1,64}");

const topicSchema = z
  .string()
  .regex(/^[a-z0-9-]{1,64}$/, "must match [a-z0-9-]{1,64}")
  .refine((topic) => topic !== "transactional", {
    message: "a campaign is marketing and cannot use the transactional topic",
  });

/**
 * An exact duration in ms from an ISO 8601 duration; a day counts 24 hours here because
 * lateness is elapsed time, not a date in some contact's zone. Null when not exact or negative.
 */
export function exactDurationMs(text: string): number | null {
  const duration = parseDuration(text);
  if (!duration || duration.sign < 0 || duration.years > 0 || duration.months > 0) return null;
  const hours = (duration.weeks * 7 + duration.days) * 24 + duration.hours;
  return hours * HOUR_MS + duration.minutes * 60_000 + Math.round(duration.seconds * 1000);
}

const latenessSchema = z.string().transform((text, ctx) => {
  const ms = exactDurationMs(text);
  if (ms === null || ms < 60_000 || ms > MAX_LATENESS_MS) {
    ctx.addIssue({
      code: "custom",
      message: "must be an ISO 8601 duration from PT1M to P7D (weeks, days, hours, minutes)",
    });
    return z.NEVER;
  }
  return ms;
});

const campaignShape = z
  .strictObject({
    id: idSchema,
    name: z.string().min(1).max(200),
    segment: idSchema,
    template: idSchema.optional(),
    scenario: idSchema.optional(),
    channel: z.enum(CAMPAIGN_CHANNELS).default("email"),
    topic: topicSchema.optional(),
    sendAt: z.iso
      .datetime({ offset: true, error: "must be an ISO 8601 date-time with an offset" })
      .optional(),
    maxLateness: latenessSchema.default(3_600_000),
  })
  .superRefine((doc, ctx) => {
    if ((doc.template === undefined) === (doc.scenario === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["template"],
        message: "a campaign needs exactly one of template or scenario",
      });
    }
    if (doc.template !== undefined && doc.topic === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["topic"],
        message: "a template campaign needs the consent topic it sends under",
      });
    }
  });

/** A validated campaign document; `maxLateness` is in ms once parsed. */
export type Campaign = z.output<typeof campaignShape>;

/** Validates a campaign document; returns issues with a path to each fault. */
export function parseCampaign(input: unknown): ParseResult<Campaign> {
  const result = campaignShape.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toFieldIssues(result.error) };
}

/** What the fan-out asks of one contact's object; idempotent per (campaign, contact). */
export interface EnterCampaignInput {
  campaignId: string;
  scenarioId: string | null;
  templateId: string | null;
  channel: CampaignChannel;
  topic: string;
}

export interface EnterCampaignResult {
  outcome: "queued" | "entered" | "suppressed" | "skipped";
  reason: string | null;
  messageId: string | null;
}
