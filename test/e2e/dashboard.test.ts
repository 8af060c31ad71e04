/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against the real
 * worker under wrangler: sign in with the admin key, read a step's live counts, preview a sent
 * email, open a contact's runs. Screenshots go to /tmp/dashboard-*.png for a person to look at.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEngine, type LocalEngine } from "./local-engine";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The dashboard refreshes every 3 s and the queue delivers within a few; 20 s is generous. */
const LIVE_TIMEOUT_MS = 20_000;
const VIEWPORT = { width: 1440, height: 900 };

/** The number a count element shows ("1,234" → 1234). */
async function shownCount(locator: Locator): Promise<number> {
  const text = (await locator.textContent()) ?? "";
  return Number(text.replace(/[^\d]/g, "") || "0");
}

let engine: LocalEngine;
let browser: Browser;
let page: Page;
const contactId = `e2e-dash-${randomUUID()}`;
const email = `${contactId}@example.test`;
const offOriginRequests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: the dashboard test drives a real browser. ` +
        `Install it with "apt-get update && apt-get install -y chromium" (Debian), or point ` +
        `CHROMIUM_PATH at another Chromium.`,
    );
  }

  engine = await startLocalEngine({ label: "e2e-dashboard" });
  const demo = await engine.loadDemo();
  expect(demo.outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
  const ingest = await engine.batch([
    {
      type: "identify",
      userId: contactId,
      traits: { email, first_name: "Ada", plan: "business" },
      context: { timezone: "Europe/Paris" },
    },
    {
      type: "track",
      userId: contactId,
      event: "Trial Booked",
      properties: { trial_date: "2026-03-02", location: "Acme Lyon" },
    },
    { type: "track", userId: contactId, event: "Signed Up", properties: { plan: "business" } },
  ]);
  expect(ingest.status, await ingest.clone().text()).toBe(200);

  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: VIEWPORT });
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(engine.baseUrl) && !/^(data|about|blob):/.test(url)) {
      offOriginRequests.push(url);
    }
  });
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await engine?.dispose();
});

describe("the dashboard in Chromium", () => {
  it("asks for the admin key, then lists the scenarios", async () => {
    await page.goto(engine.baseUrl);
    await page.getByLabel("Admin key").fill(engine.adminKey);
    await page.getByRole("button", { name: "Open the dashboard" }).click();

    const row = page.locator('tr[data-row="trial-confirmation"]');
    await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
    expect(await row.textContent()).toContain("Free trial day booked: confirmation");
    expect(await page.locator("tbody tr[data-row]").count()).toBeGreaterThanOrEqual(9);
    expect(await page.evaluate(() => localStorage.getItem("parcours.adminKey"))).toBe(
      engine.adminKey,
    );
    await page.screenshot({ path: "/tmp/dashboard-scenarios.png", fullPage: true });
  });

  it("shows the live sent count on the send step of trial-confirmation", async () => {
    await page.getByRole("link", { name: "Free trial day booked: confirmation" }).click();
    const sent = page.locator('[data-step="confirm"] [data-metric="sent"] dd');
    await sent.waitFor({ timeout: LIVE_TIMEOUT_MS });

    await expect
      .poll(() => shownCount(sent), { timeout: LIVE_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    expect(await shownCount(page.locator('[data-step="confirm"] [data-metric="entered"] dd'))).toBe(
      1,
    );
    expect(await page.locator('[data-funnel="confirm"]').textContent()).toContain("100 %");
    await page.screenshot({ path: "/tmp/dashboard-scenario.png", fullPage: true });
  });

  it("previews the trial email from the recent activity in a sandboxed frame", async () => {
    await page.getByRole("link", { name: "Recent activity" }).click();
    const subject = page
      .locator("tr", { hasText: email })
      .getByRole("button", { name: "Your free trial day is booked" });
    await subject.waitFor({ timeout: LIVE_TIMEOUT_MS });
    await subject.click();

    const frame = page.locator("#preview iframe");
    await frame.waitFor();
    expect(await frame.getAttribute("sandbox")).toBe("");
    expect(await page.locator("#preview-title").textContent()).toBe(
      "Your free trial day is booked",
    );
    await page.frameLocator("#preview iframe").getByText("Acme Lyon").first().waitFor();
    await page.screenshot({ path: "/tmp/dashboard-preview.png" });
    await page.keyboard.press("Escape");
    await page.locator("#preview").waitFor({ state: "hidden" });
  });

  it("opens the contact and shows its runs and the step it waits on", async () => {
    await page.getByRole("link", { name: "Contacts", exact: true }).click();
    await page.locator(`tr[data-row="${contactId}"] a`).click();

    const nurturing = page.locator("tr", { hasText: "lead-nurturing" }).first();
    await nurturing.waitFor({ timeout: LIVE_TIMEOUT_MS });
    expect(await nurturing.textContent()).toContain("wait-guide");
    expect(
      await page.locator("tr", { hasText: "trial-confirmation" }).first().textContent(),
    ).toContain("completed");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Ada");
    await page.screenshot({ path: "/tmp/dashboard-contact.png", fullPage: true });
  });

  it("fetched nothing from another origin and raised no script error", () => {
    expect(offOriginRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
