import type { ContactSnapshot } from "./contact";
import { addIsoDuration } from "./duration";
import type { RunState } from "./run";

/**
 * Whether a message may go, and under which id: consent, frequency caps and message keys, as
 * the interpreter decides them and the object checks again at hand-off.
 */

/** At most `max` marketing messages per channel within `within`, across scenarios. */
export type FrequencyCaps = Partial<Record<string, { max: number; within: string }>>;

/**
 * The id of a message a send step produces: the contact, the run, the step and the step's
 * execution number, so the same decision made twice names the same message.
 */
export function messageKey(input: { contactId: string; run: RunState; stepId: string }): string {
  return `${input.contactId}:${input.run.id}/${input.stepId}/${input.run.seq}`;
}

/**
 * When a marketing message on this channel may go again, or null if it may go now: the cap
 * counts marketing sends within the window, transactional and internal ones never count.
 */
export function capReleaseMs(input: {
  caps: FrequencyCaps;
  channel: string;
  contact: ContactSnapshot;
  atMs: number;
  timeZone: string;
}): number | null {
  const cap = input.caps[input.channel];
  if (!cap || cap.max <= 0 || input.channel === "internal") return null;
  const sinceMs = addIsoDuration({
    atMs: input.atMs,
    iso: `-${cap.within}`,
    timeZone: input.timeZone,
  });
  const recent = (input.contact.sends ?? [])
    .filter((send) => send.marketing && send.channel === input.channel && send.atMs > sinceMs)
    .map((send) => send.atMs)
    .sort((a, b) => a - b);
  if (recent.length < cap.max) return null;
  const oldestCountingMs = recent[recent.length - cap.max] as number;
  return addIsoDuration({ atMs: oldestCountingMs, iso: cap.within, timeZone: input.timeZone }) + 1;
}

/**
 * Why a message may not go, or null. A suppressed address (hard bounce, complaint, SMS STOP)
 * blocks everything; transactional messages bypass marketing topics and channel opt-outs;
 * `internal` messages go to the brand's own team, so the contact's consent does not apply.
 */
export function consentBlock(input: {
  contact: Pick<ContactSnapshot, "consent">;
  topic: string;
  channel: string;
}): string | null {
  const { consent } = input.contact;
  if (input.channel === "internal") return null;
  if (consent[`suppressed:${input.channel}`] === "unsubscribed") {
    return `${input.channel} suppressed`;
  }
  if (input.topic === "transactional") return null;
  if (consent[`channel:${input.channel}`] === "unsubscribed") {
    return `unsubscribed from ${input.channel}`;
  }
  if (consent.all === "unsubscribed") return "unsubscribed from all marketing";
  if (consent[input.topic] === "unsubscribed") return `unsubscribed from ${input.topic}`;
  return null;
}
