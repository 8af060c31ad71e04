/**
 * The template document: one message for one channel, written in Liquid (and MJML for email).
 * Shape rules live here; Liquid and MJML are checked by `compileTemplate` when the template is
 * saved.
 */
import { z } from "zod";
import { CHANNELS, toFieldIssues, type ParseResult } from "../engine/scenario";

/** Source size caps, so a saved template can never be large enough to slow every render. */
const MAX_BODY_CHARS = 256 * 1024;
const MAX_TEXT_CHARS = 64 * 1024;
const MAX_LINE_CHARS = 1000;

const idSchema = z.string().regex(/^[a-z0-9-]{1,64}$/, "must match [a-z0-9-]{1,64}");

const topicSchema = z.string().regex(/^[a-z0-9-]{1,64}$/, "must match [a-z0-9-]{1,64}");

const templateShape = z.strictObject({
  id: idSchema,
  name: z.string().min(1).max(200).optional(),
  channel: z.enum(CHANNELS),
  subject: z.string().min(1).max(MAX_LINE_CHARS).optional(),
  mjml: z.string().min(1).max(MAX_BODY_CHARS).optional(),
  html: z.string().min(1).max(MAX_BODY_CHARS).optional(),
  text: z.string().min(1).max(MAX_TEXT_CHARS).optional(),
  title: z.string().min(1).max(MAX_LINE_CHARS).optional(),
  url: z.string().min(1).max(MAX_LINE_CHARS).optional(),
  topic: topicSchema.optional(),
});

export type Template = z.infer<typeof templateShape>;

type Part = "subject" | "mjml" | "html" | "text" | "title" | "url";

/** Which optional parts each channel may carry; anything else is a mistake worth reporting. */
const ALLOWED_PARTS: Record<Template["channel"], readonly Part[]> = {
  email: ["subject", "mjml", "html", "text"],
  sms: ["text"],
  push: ["text", "title", "url"],
  webhook: ["text"],
  // An internal note may go to a team mailbox, where a subject line helps.
  internal: ["text", "subject"],
};

const PARTS: readonly Part[] = ["subject", "mjml", "html", "text", "title", "url"];

function checkChannelParts(doc: Template, ctx: z.RefinementCtx): void {
  const allowed = ALLOWED_PARTS[doc.channel];
  for (const part of PARTS) {
    if (doc[part] !== undefined && !allowed.includes(part)) {
      ctx.addIssue({
        code: "custom",
        path: [part],
        message: `is not used by the ${doc.channel} channel`,
      });
    }
  }

  switch (doc.channel) {
    case "email":
      if (doc.subject === undefined) {
        ctx.addIssue({ code: "custom", path: ["subject"], message: "an email needs a subject" });
      }
      if ((doc.mjml === undefined) === (doc.html === undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["mjml"],
          message: "an email needs exactly one of mjml or html",
        });
      }
      return;
    case "sms":
    case "push":
    case "webhook":
    case "internal":
      if (doc.text === undefined) {
        ctx.addIssue({ code: "custom", path: ["text"], message: `a ${doc.channel} needs text` });
      }
      return;
  }
}

export const templateSchema = templateShape.superRefine(checkChannelParts);

/** Validates a template document; returns issues with a path to each fault. */
export function parseTemplate(input: unknown): ParseResult<Template> {
  const result = templateSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toFieldIssues(result.error) };
}
