import { z } from "zod";
import type { IngestCall } from "../engine/contact-engine";

/**
 * The Segment call shapes Parcours accepts, and how a call becomes the contact engine's input.
 * Shared by the ingestion route and the backtest, so both read data the same way.
 */

const idSchema = z.union([z.string().min(1).max(256), z.number()]).transform(String);

const timestampSchema = z
  .string()
  .refine((text) => !Number.isNaN(Date.parse(text)), { message: "is not an ISO 8601 date-time" });

export const contextSchema = z.looseObject({ timezone: z.string().max(64).optional() });

const baseCall = {
  userId: idSchema.nullish(),
  anonymousId: idSchema.nullish(),
  messageId: z.string().min(1).max(256).optional(),
  timestamp: timestampSchema.optional(),
  context: contextSchema.optional(),
  writeKey: z.string().optional(),
};

const record = z.record(z.string(), z.unknown());

const identifySchema = z.looseObject({
  ...baseCall,
  type: z.literal("identify"),
  traits: record.optional(),
});
const trackSchema = z.looseObject({
  ...baseCall,
  type: z.literal("track"),
  event: z.string().min(1, "is empty").max(200),
  properties: record.optional(),
});
const pageSchema = z.looseObject({
  ...baseCall,
  type: z.literal("page"),
  name: z.string().max(200).nullish(),
  category: z.string().max(200).nullish(),
  properties: record.optional(),
});
const screenSchema = z.looseObject({
  ...baseCall,
  type: z.literal("screen"),
  name: z.string().max(200).nullish(),
  properties: record.optional(),
});
const aliasSchema = z.looseObject({
  ...baseCall,
  type: z.literal("alias"),
  previousId: idSchema,
});

export const callSchema = z.discriminatedUnion("type", [
  identifySchema,
  trackSchema,
  pageSchema,
  screenSchema,
  aliasSchema,
]);

export type SegmentCall = z.infer<typeof callSchema>;

export const batchSchema = z.looseObject({
  batch: z.array(z.unknown()).min(1, "is empty").max(2_500),
  context: contextSchema.optional(),
  writeKey: z.string().optional(),
});

/** The contact a call belongs to: its user id, else its anonymous id. */
export function contactIdOf(call: {
  userId?: string | null;
  anonymousId?: string | null;
}): string | null {
  if (call.userId) return call.userId;
  if (call.anonymousId) return `anon:${call.anonymousId}`;
  return null;
}

/** The call as the contact object takes it; a missing messageId gets a random one. */
export function toIngestCall(call: SegmentCall): IngestCall {
  const base = {
    messageId: call.messageId ?? `generated-${crypto.randomUUID()}`,
    timestampMs: call.timestamp ? Date.parse(call.timestamp) : null,
    timeZone: call.context?.timezone ?? null,
  };
  switch (call.type) {
    case "identify":
      return {
        ...base,
        type: "identify",
        name: "identify",
        traits: call.traits ?? {},
        properties: {},
      };
    case "track":
      return {
        ...base,
        type: "track",
        name: call.event,
        traits: null,
        properties: call.properties ?? {},
      };
    case "page":
      return {
        ...base,
        type: "page",
        name: "Page Viewed",
        traits: null,
        properties: {
          ...(call.properties ?? {}),
          name: call.name ?? null,
          category: call.category ?? null,
        },
      };
    case "screen":
      return {
        ...base,
        type: "screen",
        name: "Screen Viewed",
        traits: null,
        properties: { ...(call.properties ?? {}), name: call.name ?? null },
      };
    case "alias":
      return {
        ...base,
        type: "alias",
        name: "alias",
        traits: null,
        properties: { previousId: call.previousId },
      };
  }
}
