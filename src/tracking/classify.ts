/**
 * Tells human opens and clicks from machine ones. Apple Mail Privacy Protection prefetches
 * images, and security gateways and link scanners fetch every link within seconds of delivery;
 * those events are stored but must never resolve a wait. Pure: no clock, no platform types.
 */

export interface EngagementInput {
  kind: "opened" | "clicked";
  method: "GET" | "HEAD" | string;
  userAgent: string | null;
  ip: string | null;
  atMs: number;
  sentAtMs: number | null;
  /** Times of the message's other clicks, on any of its links. */
  recentClicksAtMs: number[];
  /** How many tracked links the message holds, when known. */
  linkCount?: number;
  /** The provider flagged the event as automated. */
  machineHint?: boolean;
}

export interface EngagementClass {
  machine: boolean;
  /** A short code for logs and the dashboard, e.g. "scanner-user-agent:mimecast". */
  reason: string;
}

/** A click this soon after we sent is a gateway scanning the message on arrival. */
export const MIN_HUMAN_CLICK_DELAY_MS = 10_000;
/** Three clicks on one message inside this window is a burst no reader produces. */
export const BURST_WINDOW_MS = 2_000;
export const BURST_MIN_CLICKS = 3;
/** Clicking every link of a message inside this window is a scanner sweeping it. */
export const SWEEP_WINDOW_MS = 5_000;

/**
 * Apple's image-proxy and Private Relay egress addresses, a small sample rather than the full
 * list. 17.0.0.0/8 is Apple's own allocation; the others are relay egress blocks that appear in
 * Apple's published https://mask-api.icloud.com/egress-ip-ranges.csv (about 3 300 merged IPv4
 * ranges in 2026). Apple Mail Privacy Protection loads images through the same relays.
 */
export const APPLE_PROXY_CIDRS = [
  "17.0.0.0/8",
  "104.28.0.0/16",
  "172.224.224.0/19",
  "2606:54c0::/32",
] as const;

/** Gmail fetches images through its proxy when the reader opens the message. */
const GMAIL_IMAGE_PROXY = /GoogleImageProxy/i;

/** User agents of scanners, gateways, crawlers, HTTP libraries and headless browsers. */
const MACHINE_USER_AGENTS: ReadonlyArray<readonly [name: string, pattern: RegExp]> = [
  ["microsoft-preview", /BingPreview|Microsoft Office Protocol Discovery/i],
  ["barracuda", /Barracuda/i],
  ["mimecast", /Mimecast/i],
  ["proofpoint", /Proofpoint/i],
  ["symantec", /Symantec|MessageLabs/i],
  ["cisco-ironport", /IronPort|Cisco/i],
  ["http-library", /python-requests|python-urllib|aiohttp|curl\/|Wget|Go-http-client/i],
  ["http-library", /Java\/|Apache-HttpClient|libwww-perl|node-fetch|axios\/|undici/i],
  ["headless-browser", /HeadlessChrome|PhantomJS|Puppeteer|Playwright|Selenium|Lighthouse/i],
  // "CUBOT" is a phone brand, not a bot.
  ["crawler", /(?<!cu)bot\b|crawler|spider|slurp|facebookexternalhit|preview|scanner/i],
];

/** Classifies one open or click; every rule below names the reason it reports. */
export function classifyEngagement(input: EngagementInput): EngagementClass {
  const userAgent = input.userAgent?.trim() ?? "";

  // A HEAD request checks that a link resolves; a reader's browser always GETs.
  if (input.method.toUpperCase() === "HEAD") return machine("head-request");
  // The provider saw the machine first (for example an Apple privacy-proxy flag).
  if (input.machineHint === true) return machine("provider-flag");
  // Every browser and mail client sends a user agent; scripts often do not.
  if (userAgent === "") return machine("no-user-agent");
  // Gmail's proxy loads images when the reader opens the message, so its open is human.
  if (input.kind === "opened" && GMAIL_IMAGE_PROXY.test(userAgent)) return human("gmail-proxy");
  // A bare "Mozilla/5.0" names no browser and no platform; no real browser sends it alone.
  if (/^Mozilla\/5\.0$/i.test(userAgent)) return machine("bare-user-agent");
  // Known scanners, gateways, crawlers, libraries and headless browsers.
  const scanner = MACHINE_USER_AGENTS.find(([, pattern]) => pattern.test(userAgent));
  if (scanner !== undefined) return machine(`scanner-user-agent:${scanner[0]}`);
  // Opens from Apple's proxies are Mail Privacy Protection prefetches; clicks through Private
  // Relay are Safari readers, so the address alone decides nothing for a click.
  if (input.kind === "opened" && input.ip !== null && isAppleProxyIp(input.ip)) {
    return machine("apple-proxy-ip");
  }
  if (input.kind === "opened") return human("browser-open");

  // No reader clicks within seconds of the send; gateways scan on arrival.
  if (input.sentAtMs !== null && input.atMs - input.sentAtMs < MIN_HUMAN_CLICK_DELAY_MS) {
    return machine("click-too-soon-after-send");
  }
  // Several clicks within two seconds is a scanner fetching links in parallel.
  if (clicksWithin(input, BURST_WINDOW_MS) >= BURST_MIN_CLICKS) return machine("click-burst");
  // Every link of the message within five seconds is a sweep, even when slower than a burst.
  const linkCount = input.linkCount ?? 0;
  if (linkCount >= 2 && clicksWithin(input, SWEEP_WINDOW_MS) >= linkCount) {
    return machine("every-link-clicked");
  }
  return human("browser-click");
}

/** True when the address is in one of the sampled Apple proxy ranges. */
export function isAppleProxyIp(ip: string): boolean {
  return APPLE_PROXY_CIDRS.some((cidr) => isInCidr(ip, cidr));
}

/** True when an IPv4 or IPv6 address lies in the CIDR block; false for anything unparsable. */
export function isInCidr(ip: string, cidr: string): boolean {
  const [network, prefixText] = cidr.split("/");
  const address = parseIp(ip);
  const base = network === undefined ? null : parseIp(network);
  if (address === null || base === null || address.bits !== base.bits) return false;
  const prefix = prefixText === undefined ? address.bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > address.bits) return false;

  const shift = BigInt(address.bits - prefix);
  return address.value >> shift === base.value >> shift;
}

interface ParsedIp {
  bits: 32 | 128;
  value: bigint;
}

function parseIp(text: string): ParsedIp | null {
  const trimmed = text.trim().replace(/^\[|\]$/g, "");
  if (trimmed.includes(":")) return parseIpv6(trimmed);
  const value = parseIpv4(trimmed);
  return value === null ? null : { bits: 32, value };
}

function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): ParsedIp | null {
  const withoutZone = text.split("%")[0] ?? "";
  const halves = withoutZone.split("::");
  if (halves.length > 2) return null;

  const groups = (half: string | undefined): string[] | null => {
    if (half === undefined || half === "") return [];
    const parts = half.split(":");
    const last = parts.at(-1) ?? "";
    // A trailing dotted quad (::ffff:192.0.2.1) stands for the last two groups.
    if (last.includes(".")) {
      const v4 = parseIpv4(last);
      if (v4 === null) return null;
      parts.splice(-1, 1, (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    }
    return parts.every((part) => /^[0-9a-f]{1,4}$/i.test(part)) ? parts : null;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;

  const all = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill("0"), ...tail];
  let value = 0n;
  for (const group of all) value = (value << 16n) | BigInt(`0x${group}`);

  // An IPv4-mapped address (::ffff:a.b.c.d) is matched against IPv4 ranges.
  if (value >> 32n === 0xffffn) return { bits: 32, value: value & 0xffffffffn };
  return { bits: 128, value };
}

/** This click plus the message's other clicks that fall within the window around it. */
function clicksWithin(input: EngagementInput, windowMs: number): number {
  const others = input.recentClicksAtMs.filter((atMs) => Math.abs(atMs - input.atMs) <= windowMs);
  return 1 + others.length;
}

function machine(reason: string): EngagementClass {
  return { machine: true, reason };
}

function human(reason: string): EngagementClass {
  return { machine: false, reason };
}
