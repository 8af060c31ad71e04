import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { FieldIssue } from "../engine/scenario";
import type { Logger } from "../shared/logger";

/** The one error type routes throw; mapped to a response in `errorResponse`. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

export const badRequest = (issues: FieldIssue[]): HttpError =>
  new HttpError(
    400,
    "invalid_request",
    issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "),
    issues,
  );

export const notFound = (what: string): HttpError =>
  new HttpError(404, "not_found", `${what} not found`);

/** Maps errors to JSON bodies; an unknown error is a generic 500 and a full log line. */
export function errorResponse(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof HttpError) {
    return c.json(
      { success: false, error: error.code, message: error.message, issues: error.issues },
      error.status,
    );
  }
  logger.error("http:unhandled", {
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    error:
      error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error),
  });
  return c.json({ success: false, error: "internal", message: "Internal error" }, 500);
}

/** Reads a JSON body or fails with a 400 that says why. */
export async function readJson(c: Context, limitBytes: number): Promise<unknown> {
  const text = await c.req.text();
  if (text.length > limitBytes) {
    throw new HttpError(413, "payload_too_large", `body is over ${limitBytes} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest([{ path: "(body)", message: "is not valid JSON" }]);
  }
}
