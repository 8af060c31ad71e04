import type { MiddlewareHandler } from "hono";
import type { Env } from "../env";
import { HttpError } from "./errors";

/** Constant-time comparison, so a key cannot be guessed byte by byte from timings. */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  if (a.length !== b.length || expected === "") return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** The Segment write key: HTTP Basic user name (password empty). */
export function basicUser(header: string | undefined): string | null {
  if (!header?.startsWith("Basic ")) return null;
  try {
    const decoded = atob(header.slice(6).trim());
    const colon = decoded.indexOf(":");
    return colon === -1 ? decoded : decoded.slice(0, colon);
  } catch {
    return null;
  }
}

/** `Authorization: Bearer <admin key>` on every admin route. */
export const requireAdmin: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
  if (!sameSecret(token, c.env.ADMIN_KEY ?? "")) {
    throw new HttpError(401, "unauthorized", "missing or wrong admin key (Authorization: Bearer)");
  }
  await next();
};
