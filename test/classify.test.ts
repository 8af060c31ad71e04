import { describe, expect, it } from "vitest";
import { classifyEngagement, isInCidr, type EngagementInput } from "../src/tracking/classify";

const SENT_AT_MS = Date.parse("2026-03-02T10:00:00Z");
const SECOND_MS = 1000;
const HOUR_MS = 60 * 60 * SECOND_MS;

const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "Chrome/124.0.0.0 Safari/537.36";
const IPHONE_SAFARI =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 " +
  "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const GMAIL_PROXY =
  "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";

function click(overrides: Partial<EngagementInput> = {}): EngagementInput {
  return {
    kind: "clicked",
    method: "GET",
    userAgent: CHROME,
    ip: "203.0.113.7",
    atMs: SENT_AT_MS + HOUR_MS,
    sentAtMs: SENT_AT_MS,
    recentClicksAtMs: [],
    ...overrides,
  };
}

function open(overrides: Partial<EngagementInput> = {}): EngagementInput {
  return click({ kind: "opened", ...overrides });
}

describe("classifyEngagement", () => {
  it("counts a browser click an hour after sending as human", () => {
    expect(classifyEngagement(click())).toEqual({ machine: false, reason: "browser-click" });
  });

  it("counts a scanner burst two seconds after sending as machine", () => {
    const atMs = SENT_AT_MS + 2 * SECOND_MS;

    const result = classifyEngagement(
      click({ atMs, recentClicksAtMs: [atMs - 100, atMs - 50], userAgent: CHROME }),
    );

    expect(result.machine).toBe(true);
  });

  it("counts three clicks within two seconds as a burst even long after sending", () => {
    const atMs = SENT_AT_MS + HOUR_MS;

    const result = classifyEngagement(click({ atMs, recentClicksAtMs: [atMs - 1500, atMs - 700] }));

    expect(result).toEqual({ machine: true, reason: "click-burst" });
  });

  it("counts two clicks seconds apart by a reader as human", () => {
    const atMs = SENT_AT_MS + HOUR_MS;

    const result = classifyEngagement(click({ atMs, recentClicksAtMs: [atMs - 30 * SECOND_MS] }));

    expect(result.machine).toBe(false);
  });

  it("counts every link of the message clicked within five seconds as machine", () => {
    const atMs = SENT_AT_MS + HOUR_MS;

    const result = classifyEngagement(
      click({ atMs, linkCount: 2, recentClicksAtMs: [atMs - 4 * SECOND_MS] }),
    );

    expect(result).toEqual({ machine: true, reason: "every-link-clicked" });
  });

  it("counts a click within ten seconds of sending as machine", () => {
    const result = classifyEngagement(click({ atMs: SENT_AT_MS + 6 * SECOND_MS }));

    expect(result).toEqual({ machine: true, reason: "click-too-soon-after-send" });
  });

  it("counts a HEAD request as machine", () => {
    expect(classifyEngagement(click({ method: "HEAD" }))).toEqual({
      machine: true,
      reason: "head-request",
    });
  });

  it("counts an event the provider flagged as machine", () => {
    expect(classifyEngagement(open({ machineHint: true })).machine).toBe(true);
  });

  it("counts a click without a user agent as machine", () => {
    expect(classifyEngagement(click({ userAgent: null })).reason).toBe("no-user-agent");
  });

  it.each([
    ["Mimecast", "Mozilla/5.0 (compatible; Mimecast URL Protect)"],
    ["Barracuda", "Barracuda Sentinel (EE)"],
    ["python-requests", "python-requests/2.31.0"],
    ["curl", "curl/8.4.0"],
    ["Go", "Go-http-client/1.1"],
    ["headless Chrome", "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36"],
    ["Bing preview", "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 BingPreview/1.0b"],
    ["a crawler", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"],
  ])("counts a %s user agent as machine", (_name, userAgent) => {
    expect(classifyEngagement(click({ userAgent })).reason).toMatch(/^scanner-user-agent:/);
  });

  it("counts an open from Apple's proxy range as machine", () => {
    const result = classifyEngagement(
      open({ userAgent: IPHONE_SAFARI, ip: "17.58.101.4", atMs: SENT_AT_MS + 3 * SECOND_MS }),
    );

    expect(result).toEqual({ machine: true, reason: "apple-proxy-ip" });
  });

  it("counts an open from a Private Relay IPv6 egress as machine", () => {
    const result = classifyEngagement(open({ userAgent: IPHONE_SAFARI, ip: "2606:54c0:1a0::42" }));

    expect(result.machine).toBe(true);
  });

  it("counts an open with a bare Mozilla user agent as machine", () => {
    expect(classifyEngagement(open({ userAgent: "Mozilla/5.0" })).machine).toBe(true);
  });

  it("counts a Safari click through Private Relay an hour later as human", () => {
    const result = classifyEngagement(click({ userAgent: IPHONE_SAFARI, ip: "172.224.226.9" }));

    expect(result.machine).toBe(false);
  });

  it("counts an open through Gmail's image proxy as human", () => {
    const result = classifyEngagement(open({ userAgent: GMAIL_PROXY, ip: "66.249.84.1" }));

    expect(result).toEqual({ machine: false, reason: "gmail-proxy" });
  });

  it("counts a browser open from an ordinary address as human", () => {
    expect(classifyEngagement(open()).machine).toBe(false);
  });
});

describe("isInCidr", () => {
  it.each([
    ["17.1.2.3", "17.0.0.0/8", true],
    ["18.1.2.3", "17.0.0.0/8", false],
    ["104.28.55.1", "104.28.0.0/16", true],
    ["::ffff:17.0.0.1", "17.0.0.0/8", true],
    ["2606:54c0:ffff::1", "2606:54c0::/32", true],
    ["2606:54c1::1", "2606:54c0::/32", false],
    ["2001:db8::1", "17.0.0.0/8", false],
    ["not an ip", "17.0.0.0/8", false],
    ["256.1.1.1", "0.0.0.0/0", false],
    ["1:2:3:4:5:6:7:8:9", "::/0", false],
  ])("places %s in %s: %s", (ip, cidr, inside) => {
    expect(isInCidr(ip, cidr)).toBe(inside);
  });
});
