import { SELF } from "cloudflare:test";

/** Tracking URLs found in a stored email body. */
export function trackingUrls(html: string): {
  opens: string[];
  clicks: string[];
  unsubscribes: string[];
} {
  const all = [...html.matchAll(/http:\/\/parcours\.test\/(t\/o|t\/c|u)\/[A-Za-z0-9_.-]+/g)];
  const of = (prefix: string) => [...new Set(all.filter((m) => m[1] === prefix).map((m) => m[0]))];
  return { opens: of("t/o"), clicks: of("t/c"), unsubscribes: of("u") };
}

export const BROWSER_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

/** Requests a tracking URL as a reader's browser (or another client) would. */
export async function hit(
  url: string,
  init: { method?: string; userAgent?: string; ip?: string } = {},
): Promise<Response> {
  return SELF.fetch(url, {
    method: init.method ?? "GET",
    redirect: "manual",
    headers: {
      "user-agent": init.userAgent ?? BROWSER_UA,
      ...(init.ip ? { "cf-connecting-ip": init.ip } : {}),
    },
  });
}
