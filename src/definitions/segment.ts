import { z } from "zod";
import { conditionSchema } from "../engine/condition";
import { toFieldIssues, type ParseResult } from "../engine/scenario";

const segmentSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]{1,64}$/, "must match [a-z0-9-]{1,64}"),
  name: z.string().min(1).max(200),
  condition: conditionSchema,
});

export type Segment = z.infer<typeof segmentSchema>;

/** Validates a segment document: an id, a name and a condition in the scenario language. */
export function parseSegment(input: unknown): ParseResult<Segment> {
  const result = segmentSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toFieldIssues(result.error) };
}
