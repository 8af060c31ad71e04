/**
 * Carrier keywords in SMS replies. A keyword counts only as the first word of the reply, so
 * "Stop. Thank you" ends consent while "please don't stop" and "non-stop" do not.
 */

export type SmsKeyword = "stop" | "start" | "help";

// ARRET is the French opt-out keyword; accents are folded before the lookup.
const KEYWORDS = new Map<string, SmsKeyword>([
  ["STOP", "stop"],
  ["STOPALL", "stop"],
  ["UNSUBSCRIBE", "stop"],
  ["CANCEL", "stop"],
  ["END", "stop"],
  ["QUIT", "stop"],
  ["ARRET", "stop"],
  ["REVOKE", "stop"],
  ["OPTOUT", "stop"],
  ["START", "start"],
  ["UNSTOP", "start"],
  ["YES", "start"],
  ["HELP", "help"],
  ["INFO", "help"],
]);

/** The keyword a reply opens with, or null when it opens with anything else. */
export function classifySmsReply(text: string): SmsKeyword | null {
  const words = text
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toUpperCase()
    // Leading quotes or punctuation ("'STOP'", "*stop*") do not hide the first word.
    .replace(/^[\s\p{P}\p{S}]+/u, "")
    .split(/[^\p{L}\p{N}]+/u);
  const [first = "", second = ""] = words;

  // "Opt out" and "opt-out" are the two-word spellings of OPTOUT.
  if (first === "OPT" && second === "OUT") return "stop";
  return KEYWORDS.get(first) ?? null;
}
