/// <reference types="vite/client" />
import { env, SELF } from "cloudflare:test";
import Papa from "papaparse";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Condition } from "../src/engine/condition";
import type { ContactSnapshot } from "../src/engine/contact";
import { evaluate } from "../src/engine/evaluate";
import { retailCallsFromCsv, type SegmentCall } from "../src/replay/retail";
import { restoreClock, useVirtualClock } from "./helpers/clock";
import { admin, deliverPending, WRITE_AUTH } from "./helpers/fixtures";

const dayFiles = import.meta.glob<string>("../../shared/data/uci-online-retail/by-day/*.csv", {
  eager: true,
  query: "?raw",
  import: "default",
});
const segmentFiles = import.meta.glob<Array<{ id: string; condition: Condition }>>(
  "../../shared/scenarios/segments.json",
  { eager: true, import: "default" },
);

const realSegments = Object.values(segmentFiles)[0] ?? [];
const segments: Record<string, Condition> = Object.fromEntries(
  realSegments.map((segment) => [segment.id, segment.condition]),
);
const days = Object.keys(dayFiles).sort();
const DAY_MS = 86_400_000;

/**
 * The expected members, counted from the CSV rows with no engine code: a completed order is a
 * non-`C` invoice with a CustomerID, dated by its London day. Every cutoff used below is 00:00
 * UTC on a day when London is on GMT or has no rows, so comparing London days is exact.
 */
function ordersFromRows(): Map<string, string[]> {
  const invoiceDays = new Map<string, { customer: string; day: string }>();
  for (const path of days) {
    const rows = Papa.parse<Record<string, string>>(dayFiles[path] as string, {
      header: true,
      skipEmptyLines: true,
    }).data;
    for (const row of rows) {
      const invoice = row.InvoiceNo ?? "";
      const customerId = (row.CustomerID ?? "").trim();
      if (invoice === "" || invoice.startsWith("C") || customerId === "") continue;
      const day = (row.InvoiceDate ?? "").slice(0, 10);
      const seen = invoiceDays.get(invoice);
      if (!seen || day < seen.day) {
        invoiceDays.set(invoice, { customer: `c${Number.parseInt(customerId, 10)}`, day });
      }
    }
  }
  const byCustomer = new Map<string, string[]>();
  for (const { customer, day } of invoiceDays.values()) {
    byCustomer.set(customer, [...(byCustomer.get(customer) ?? []), day]);
  }
  return byCustomer;
}

const ordersByCustomer = ordersFromRows();

/** The UTC day `days` before a midnight-UTC `nowIso`. */
const cutoffDay = (nowIso: string, days: number) =>
  new Date(Date.parse(nowIso) - days * DAY_MS).toISOString().slice(0, 10);

function expectedLapsed(nowIso: string): string[] {
  const since = cutoffDay(nowIso, 180);
  return [...ordersByCustomer]
    .filter(([, orderDays]) => orderDays.length >= 1 && orderDays.every((day) => day < since))
    .map(([customer]) => customer)
    .sort();
}

function expectedVip(nowIso: string): string[] {
  const since = cutoffDay(nowIso, 365);
  return [...ordersByCustomer]
    .filter(([, orderDays]) => orderDays.filter((day) => day >= since).length >= 3)
    .map(([customer]) => customer)
    .sort();
}

/** Every customer's real calls across the loaded days, as a shop would have sent them. */
function callsByCustomer(): Map<string, SegmentCall[]> {
  const byCustomer = new Map<string, SegmentCall[]>();
  for (const path of days) {
    for (const call of retailCallsFromCsv(dayFiles[path] as string)) {
      if (!call.userId) continue;
      byCustomer.set(call.userId, [...(byCustomer.get(call.userId) ?? []), call]);
    }
  }
  return byCustomer;
}

const realCalls = callsByCustomer();

/** A contact as the engine sees it: `orders_count` and its orders at their real timestamps. */
function contactOf(customer: string, calls: SegmentCall[], receivedAtMs: number): ContactSnapshot {
  const tracks = calls.filter((call) => call.type === "track");
  return {
    id: customer,
    traits: { orders_count: tracks.filter((call) => call.event === "Order Completed").length },
    contextTimeZone: null,
    events: tracks.map((call) => ({
      id: call.messageId,
      type: "track",
      name: call.event ?? "",
      properties: call.properties ?? {},
      atMs: Date.parse(call.timestamp),
      receivedAtMs,
    })),
    engagements: [],
    consent: {},
  };
}

function engineMembers(segmentId: string, nowIso: string): string[] {
  const nowMs = Date.parse(nowIso);
  return [...realCalls]
    .map(([customer, calls]) => contactOf(customer, calls, nowMs))
    .filter((contact) =>
      evaluate({ segment: segmentId }, { contact, nowMs, timeZone: "UTC", segments }),
    )
    .map((contact) => contact.id)
    .sort();
}

describe("the real segments on the real UCI purchases", () => {
  it("loads all 18 day files, 805 customers and 742 with a completed order", () => {
    expect(days).toHaveLength(18);
    expect(realCalls.size).toBe(805);
    expect(ordersByCustomer.size).toBe(742);
  });

  it("finds the lapsed customers on 2011-12-01: bought before, nothing in 180 days", () => {
    const members = engineMembers("lapsed-customers", "2011-12-01T00:00:00Z");

    expect(members).toEqual(expectedLapsed("2011-12-01T00:00:00Z"));
    expect(members).toHaveLength(537);
    expect(members).toContain("c12431");
    expect(members).not.toContain("c14688");
  });

  it("finds the VIPs on 2011-12-01: three or more orders in 365 days", () => {
    const members = engineMembers("vip", "2011-12-01T00:00:00Z");

    expect(members).toEqual(expectedVip("2011-12-01T00:00:00Z"));
    expect(members).toHaveLength(43);
    expect(members).toContain("c13047");
  });

  it("drops the VIPs whose third order is older than 365 days a day later", () => {
    const members = engineMembers("vip", "2011-12-02T00:00:00Z");

    expect(members).toEqual(expectedVip("2011-12-02T00:00:00Z"));
    expect(members).toHaveLength(33);
    expect(members).not.toContain("c13047");
  });

  it("counts a customer who only cancelled as never having bought", () => {
    const members = engineMembers("lapsed-customers", "2011-12-01T00:00:00Z");

    expect(ordersByCustomer.has("c17548")).toBe(false);
    expect(realCalls.get("c17548")?.map((call) => call.event ?? call.type)).toEqual([
      "identify",
      "Order Cancelled",
    ]);
    expect(members).not.toContain("c17548");
  });
});

/**
 * Six real customers: c13047 (3 orders on 2010-12-01: lapsed and VIP), c14688 (VIP, ordered
 * in October), c12431 and c13408 (lapsed), c13632 (one October order), c17548 (a cancellation).
 */
const LIVE_CUSTOMERS = ["c12431", "c13047", "c13408", "c13632", "c14688", "c17548"];

async function postBatch(batch: unknown[]): Promise<void> {
  const response = await SELF.fetch("http://parcours.test/v1/batch", {
    method: "POST",
    headers: { authorization: WRITE_AUTH, "content-type": "application/json" },
    body: JSON.stringify({ batch }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

async function mirroredMembers(segmentId: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT contact_id AS contactId FROM segment_members WHERE segment_id = ? ORDER BY contact_id",
  )
    .bind(segmentId)
    .all<{ contactId: string }>();
  return results.map((row) => row.contactId);
}

beforeAll(async () => {
  for (const segment of realSegments) {
    const saved = await admin("/segments", { body: segment });
    expect(saved.status, JSON.stringify(saved.body)).toBeLessThan(300);
    const published = await admin(`/segments/${segment.id}/publish`, { method: "POST" });
    expect(published.status, JSON.stringify(published.body)).toBe(200);
  }
});

afterEach(() => restoreClock());

describe("the same segments through the live objects and the D1 mirror", () => {
  it("mirrors the members of real customers posted with their real timestamps", async () => {
    // Receipt time is 2011-12-01 for every order; only `event.atMs` can make anyone lapsed.
    const nowIso = "2011-12-01T00:00:00Z";
    useVirtualClock(nowIso);
    for (const customer of LIVE_CUSTOMERS) {
      const calls = realCalls.get(customer) ?? [];
      const ordersCount = ordersByCustomer.get(customer)?.length ?? 0;
      const countIdentify = {
        type: "identify",
        userId: customer,
        traits: { orders_count: ordersCount },
        timestamp: calls[0]?.timestamp,
        messageId: `orders-count-${customer}`,
      };
      await postBatch([calls[0], countIdentify, ...calls.slice(1)]);
      await deliverPending(customer);
    }

    const lapsed = LIVE_CUSTOMERS.filter((c) => expectedLapsed(nowIso).includes(c));
    const vip = LIVE_CUSTOMERS.filter((c) => expectedVip(nowIso).includes(c));
    expect(lapsed).toEqual(["c12431", "c13047", "c13408"]);
    expect(vip).toEqual(["c13047", "c14688"]);
    expect(await mirroredMembers("lapsed-customers")).toEqual(lapsed);
    expect(await mirroredMembers("vip")).toEqual(vip);
    expect((await admin("/segments/lapsed-customers")).body.size).toBe(3);
    expect((await admin("/segments/vip")).body.size).toBe(2);
  });
});
