import { Hono } from "hono";
import type { IngestCall } from "../engine/contact-engine";
import { batchSchema, callSchema, contactIdOf, toIngestCall } from "../ingest/segment-call";
import { contactStub } from "../../durable-objects/contact-stub";
import { toFieldIssues } from "../engine/scenario";
import type { Env } from "../env";
import { basicUser, sameSecret } from "../http/auth";
import { badRequest, HttpError, readJson } from "../http/errors";

/**
 * Segment caps a call at 32 KB and a batch at 500 KB; real orders with hundreds of lines exceed
 * that, so Parcours accepts more.
 */
const CALL_LIMIT_BYTES = 256 * 1024;
const BATCH_LIMIT_BYTES = 4 * 1024 * 1024;

/** Validates calls, checks the key, then hands each contact's calls to its object. */
async function ingest(input: {
  env: Env;
  rawCalls: unknown[];
  pathPrefix: (index: number) => string;
  batchContext: Record<string, unknown> | undefined;
  keyFromHeader: string | null;
  keyFromBody: string | undefined;
}): Promise<void> {
  const { env, rawCalls } = input;
  const issues: Array<{ path: string; message: string }> = [];
  const byContact = new Map<string, IngestCall[]>();
  let bodyKey = input.keyFromBody;

  rawCalls.forEach((raw, index) => {
    const prefix = input.pathPrefix(index);
    const withContext =
      input.batchContext && raw && typeof raw === "object"
        ? {
            ...raw,
            context: { ...input.batchContext, ...((raw as { context?: object }).context ?? {}) },
          }
        : raw;
    const parsed = callSchema.safeParse(withContext);
    if (!parsed.success) {
      for (const issue of toFieldIssues(parsed.error)) {
        issues.push({
          path: `${prefix}${issue.path === "(root)" ? "" : issue.path}`.replace(/\.$/, ""),
          message: issue.message,
        });
      }
      return;
    }
    const call = parsed.data;
    if (JSON.stringify(call).length > CALL_LIMIT_BYTES) {
      issues.push({
        path: prefix.replace(/\.$/, "") || "(body)",
        message: `is over ${CALL_LIMIT_BYTES} bytes`,
      });
      return;
    }
    bodyKey ??= call.writeKey;
    const contactId = contactIdOf(call);
    if (!contactId) {
      issues.push({ path: `${prefix}userId`, message: "userId or anonymousId is required" });
      return;
    }
    const calls = byContact.get(contactId) ?? [];
    calls.push(toIngestCall(call));
    byContact.set(contactId, calls);
  });

  const key = input.keyFromHeader ?? bodyKey ?? "";
  if (!sameSecret(key, env.WRITE_KEY ?? "")) {
    throw new HttpError(401, "unauthorized", "missing or wrong write key (HTTP Basic user name)");
  }
  if (issues.length > 0) throw badRequest(issues);

  await Promise.all(
    [...byContact].map(([contactId, calls]) =>
      contactStub(env, contactId).ingest({ contactId, calls }),
    ),
  );
}

export const ingestRoutes = new Hono<{ Bindings: Env }>();

ingestRoutes.post("/batch", async (c) => {
  const body = await readJson(c, BATCH_LIMIT_BYTES);
  const parsed = batchSchema.safeParse(body);
  if (!parsed.success) {
    if (!sameSecret(basicUser(c.req.header("authorization")) ?? "", c.env.WRITE_KEY ?? "")) {
      throw new HttpError(401, "unauthorized", "missing or wrong write key (HTTP Basic user name)");
    }
    throw badRequest(toFieldIssues(parsed.error));
  }

  await ingest({
    env: c.env,
    rawCalls: parsed.data.batch,
    pathPrefix: (index) => `batch.${index}.`,
    batchContext: parsed.data.context,
    keyFromHeader: basicUser(c.req.header("authorization")),
    keyFromBody: parsed.data.writeKey,
  });
  return c.json({ success: true });
});

for (const type of ["identify", "track", "page", "screen", "alias"] as const) {
  ingestRoutes.post(`/${type}`, async (c) => {
    const body = await readJson(c, CALL_LIMIT_BYTES);
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      throw badRequest([{ path: "(body)", message: "must be a JSON object" }]);
    }
    await ingest({
      env: c.env,
      rawCalls: [{ ...body, type }],
      pathPrefix: () => "",
      batchContext: undefined,
      keyFromHeader: basicUser(c.req.header("authorization")),
      keyFromBody: (body as { writeKey?: string }).writeKey,
    });
    return c.json({ success: true });
  });
}
