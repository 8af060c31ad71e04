import { z } from "zod";
import { durationSchema } from "../engine/condition";
import type { FrequencyCaps } from "../engine/send-rules";

const capsSchema = z.record(
  z.enum(["email", "sms", "push", "webhook"]),
  z.strictObject({ max: z.number().int().min(0), within: durationSchema }),
);

/**
 * Reads `FREQUENCY_CAPS`, e.g. `{"email":{"max":3,"within":"P7D"}}`. Empty means no cap; a
 * `max` of 0 means no cap on that channel.
 */
export function parseFrequencyCaps(
  text: string | undefined,
): { ok: true; caps: FrequencyCaps } | { ok: false; error: string } {
  if (!text || text.trim() === "") return { ok: true, caps: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: "FREQUENCY_CAPS is not valid JSON" };
  }
  const parsed = capsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `FREQUENCY_CAPS.${issue?.path.join(".")}: ${issue?.message}` };
  }
  return { ok: true, caps: parsed.data };
}
