import { signToken } from "./token";

/** Where tracking URLs point and how they are signed. */
export interface TrackingConfig {
  baseUrl: string;
  secret: string;
}

export interface TrackedMessage {
  contactId: string;
  messageId: string;
}

const HREF_PATTERN = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?:\/\/[^"']+)\2/gi;
const TEXT_URL_PATTERN = /https?:\/\/[^\s<>"')\]]+/g;

function decodeEntities(url: string): string {
  return url.replace(/&amp;/g, "&");
}

/** The URL that records a click, then redirects to `url`. */
export async function clickUrl(
  config: TrackingConfig,
  message: TrackedMessage,
  url: string,
): Promise<string> {
  const token = await signToken(config.secret, { kind: "click", ...message, url });
  return `${config.baseUrl}/t/c/${token}`;
}

/** The one-click unsubscribe URL of a message. */
export async function unsubscribeUrl(
  config: TrackingConfig,
  message: TrackedMessage & { topic: string; channel: string },
): Promise<string> {
  const token = await signToken(config.secret, { kind: "unsubscribe", ...message });
  return `${config.baseUrl}/u/${token}`;
}

/** The "view in browser" URL of an email. */
export async function viewUrl(config: TrackingConfig, message: TrackedMessage): Promise<string> {
  const token = await signToken(config.secret, { kind: "view", ...message });
  return `${config.baseUrl}/v/${token}`;
}

/** Rewrites every http(s) link of an HTML body for click tracking, except `keep` (unsubscribe). */
export async function trackHtml(input: {
  html: string;
  config: TrackingConfig;
  message: TrackedMessage;
  keep: string[];
}): Promise<string> {
  const { html, config, message, keep } = input;
  const replacements = new Map<string, string>();
  for (const match of html.matchAll(HREF_PATTERN)) {
    const url = decodeEntities(match[3] as string);
    if (keep.includes(url) || url.startsWith(config.baseUrl) || replacements.has(url)) continue;
    replacements.set(url, await clickUrl(config, message, url));
  }
  const linked = html.replace(HREF_PATTERN, (whole, prefix: string, quote: string, raw: string) => {
    const tracked = replacements.get(decodeEntities(raw));
    return tracked ? `${prefix}${quote}${tracked}${quote}` : whole;
  });

  const token = await signToken(config.secret, { kind: "open", ...message });
  const style = "display:block;width:1px;height:1px;border:0";
  const pixel = `<img src="${config.baseUrl}/t/o/${token}" width="1" height="1" alt="" style="${style}" />`;
  return /<\/body>/i.test(linked)
    ? linked.replace(/<\/body>/i, `${pixel}</body>`)
    : `${linked}${pixel}`;
}

/** Rewrites the bare URLs of a plain-text part for click tracking, except `keep`. */
export async function trackText(input: {
  text: string;
  config: TrackingConfig;
  message: TrackedMessage;
  keep: string[];
}): Promise<string> {
  const { text, config, message, keep } = input;
  const replacements = new Map<string, string>();
  for (const match of text.matchAll(TEXT_URL_PATTERN)) {
    const url = match[0];
    if (keep.includes(url) || url.startsWith(config.baseUrl) || replacements.has(url)) continue;
    replacements.set(url, await clickUrl(config, message, url));
  }
  return text.replace(TEXT_URL_PATTERN, (url) => replacements.get(url) ?? url);
}
