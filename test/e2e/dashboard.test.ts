/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against the real
 * worker under wrangler: sign in with the admin key, read a step's live counts, preview a sent
 * email, open a contact's runs. Screenshots go to /tmp/dashboard-*.png for a person to look at.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_startWorker } from "wrangler";
import { loadDemo } from "../../scripts/demo";
import { applyLocalMigrations } from "../../scripts/start";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const SHARED_DIR = path.resolve(REPO_ROOT, "../shared");
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WRITE_KEY = "e2e-dashboard-write-key";
const ADMIN_KEY = "e2e-dashboard-admin-key";
const HEALTH_TIMEOUT_MS = 30_000;
const HEALTH_POLL_INTERVAL_MS = 100;
/** The dashboard refreshes every 3 s and the queue delivers within a few; 20 s is generous. */
const LIVE_TIMEOUT_MS = 20_000;
const VIEWPORT = { width: 1440, height: 900 };

interface LocalEngine {
  baseUrl: string;
  stop(): Promise<void>;
}

/** The worker as `wrangler dev` runs it, on its own port and storage, without file watching. */
async function startEngine(): Promise<LocalEngine> {
  const persistDir = await mkdtemp(path.join(tmpdir(), "parcours-e2e-dashboard-"));
  await applyLocalMigrations({ persistTo: persistDir });

  const worker = await unstable_startWorker({
    config: path.join(REPO_ROOT, "wrangler.toml"),
    bindings: {
      WRITE_KEY: { type: "plain_text", value: WRITE_KEY },
      ADMIN_KEY: { type: "plain_text", value: ADMIN_KEY },
      TRACKING_SECRET: { type: "plain_text", value: "e2e-dashboard-tracking-secret" },
      LOG_LEVEL: { type: "plain_text", value: "silent" },
    },
    sendMetrics: false,
    dev: {
      persist: persistDir,
      registry: path.join(persistDir, "registry"),
      server: { hostname: "127.0.0.1", port: 0 },
      inspector: false,
      watch: false,
      logLevel: "warn",
    },
  });
  const url = await worker.url;
  await waitForHealth(url.origin);
  return {
    baseUrl: url.origin,
    async stop() {
      await worker.dispose();
      await rm(persistDir, { recursive: true, force: true });
    },
  };
}

async function waitForHealth(baseUrl: string): Promise<void> {
  const deadlineMs = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadlineMs) {
    const healthy = await fetch(new URL("/health", baseUrl)).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_INTERVAL_MS));
  }
  throw new Error(`the worker did not answer /health within ${HEALTH_TIMEOUT_MS} ms`);
}

/** Posts Segment-style calls the way an app backend would. */
async function postBatch(baseUrl: string, batch: unknown[]): Promise<void> {
  const response = await fetch(new URL("/v1/batch", baseUrl), {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ batch }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

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

  engine = await startEngine();
  const demo = await loadDemo({
    baseUrl: engine.baseUrl,
    adminKey: ADMIN_KEY,
    sharedDir: SHARED_DIR,
  });
  expect(demo.outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
  await postBatch(engine.baseUrl, [
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
  await engine?.stop();
});

describe("the dashboard in Chromium", () => {
  it("asks for the admin key, then lists the scenarios", async () => {
    await page.goto(engine.baseUrl);
    await page.getByLabel("Admin key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Open the dashboard" }).click();

    const row = page.locator('tr[data-row="trial-confirmation"]');
    await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
    expect(await row.textContent()).toContain("Free trial day booked: confirmation");
    expect(await page.locator("tbody tr[data-row]").count()).toBeGreaterThanOrEqual(9);
    expect(await page.evaluate(() => localStorage.getItem("parcours.adminKey"))).toBe(ADMIN_KEY);
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
