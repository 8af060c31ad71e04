/// <reference types="vite/client" />
// Figures below were counted from the files with awk, not with the code under test.
import firstDayCsv from "../../shared/data/uci-online-retail/by-day/2010-12-01.csv?raw";
import springForwardCsv from "../../shared/data/uci-online-retail/by-day/2011-03-27.csv?raw";
import ottoJsonl from "../../shared/data/otto-sessions-sample/train.jsonl?raw";
import { describe, expect, it } from "vitest";
import { ottoCallsFromJsonl } from "../src/replay/otto";
import type { SegmentCall } from "../src/replay/retail";
import {
  expectedOrderConfirmations,
  londonTimeToIso,
  retailCallsFromCsv,
} from "../src/replay/retail";

function countBy(calls: SegmentCall[], predicate: (call: SegmentCall) => boolean): number {
  return calls.filter(predicate).length;
}

function retailFigures(calls: SegmentCall[]) {
  return {
    identifies: countBy(calls, (call) => call.type === "identify"),
    invoices: countBy(calls, (call) => call.type === "track"),
    completed: countBy(calls, (call) => call.event === "Order Completed"),
    cancelled: countBy(calls, (call) => call.event === "Order Cancelled"),
    anonymousInvoices: countBy(calls, (call) => call.anonymousId !== undefined),
    identifiedCompleted: countBy(
      calls,
      (call) => call.event === "Order Completed" && call.userId !== undefined,
    ),
  };
}

function orderCall(calls: SegmentCall[], invoiceNo: string): SegmentCall | undefined {
  return calls.find((call) => call.messageId === `uci-${invoiceNo}`);
}

describe("UCI retail replay", () => {
  it("turns 2010-12-01 into one identify per customer and one track per invoice", () => {
    const calls = retailCallsFromCsv(firstDayCsv);

    expect(retailFigures(calls)).toEqual({
      identifies: 98,
      invoices: 143,
      completed: 137,
      cancelled: 6,
      anonymousInvoices: 16,
      identifiedCompleted: 121,
    });
    expect(expectedOrderConfirmations(firstDayCsv)).toBe(121);
  });

  it("counts the 2011-03-27 spring-forward day", () => {
    const calls = retailCallsFromCsv(springForwardCsv);

    expect(retailFigures(calls)).toEqual({
      identifies: 43,
      invoices: 46,
      completed: 32,
      cancelled: 14,
      anonymousInvoices: 1,
      identifiedCompleted: 31,
    });
    expect(expectedOrderConfirmations(springForwardCsv)).toBe(31);
  });

  it("reads London wall-clock time as GMT in winter and BST in summer", () => {
    expect(londonTimeToIso("2010-12-01 08:26:00")).toBe("2010-12-01T08:26:00Z");
    expect(londonTimeToIso("2011-03-27 10:00:00")).toBe("2011-03-27T09:00:00Z");
    expect(londonTimeToIso("2011-10-30 10:00:00")).toBe("2011-10-30T10:00:00Z");

    expect(orderCall(retailCallsFromCsv(firstDayCsv), "536365")?.timestamp).toBe(
      "2010-12-01T08:26:00Z",
    );
    expect(orderCall(retailCallsFromCsv(springForwardCsv), "547834")?.timestamp).toBe(
      "2011-03-27T09:16:00Z",
    );
  });

  it("builds the first order of customer 17850 with its identify", () => {
    const calls = retailCallsFromCsv(firstDayCsv);

    expect(calls[0]).toEqual({
      type: "identify",
      userId: "c17850",
      traits: { email: "c17850@example.test", country: "United Kingdom", customer_id: 17850 },
      timestamp: "2010-12-01T08:26:00Z",
      messageId: "uci-identify-17850-2010-12-01",
      context: { timezone: "Europe/London" },
    });
    const order = orderCall(calls, "536365");
    expect(order).toMatchObject({
      type: "track",
      userId: "c17850",
      event: "Order Completed",
      properties: { order_id: "536365", total: 139.12, currency: "GBP" },
    });
    expect(order?.properties?.products).toHaveLength(7);
    expect((order?.properties?.products as unknown[])[0]).toEqual({
      sku: "85123A",
      name: "WHITE HANGING HEART T-LIGHT HOLDER",
      quantity: 6,
      price: 2.55,
    });
  });

  it("keeps cancellations negative and anonymous checkouts without identify", () => {
    const calls = retailCallsFromCsv(firstDayCsv);

    expect(orderCall(calls, "C536379")).toMatchObject({
      userId: "c14527",
      event: "Order Cancelled",
      properties: { order_id: "C536379", total: -27.5, products: [{ sku: "D", quantity: -1 }] },
    });
    const anonymous = calls.filter((call) => call.anonymousId !== undefined);
    expect(
      anonymous.every((call) => call.anonymousId === `anon-${call.properties?.order_id}`),
    ).toBe(true);
    expect(anonymous.every((call) => call.userId === undefined)).toBe(true);
  });

  it("emits calls in time order, each identify before its customer's orders", () => {
    const calls = retailCallsFromCsv(firstDayCsv);

    const timestamps = calls.map((call) => call.timestamp);
    expect(timestamps).toEqual([...timestamps].sort());
    const firstSeen = new Map<string, string>();
    for (const call of calls) {
      if (call.userId && !firstSeen.has(call.userId)) firstSeen.set(call.userId, call.type);
    }
    expect([...firstSeen.values()].every((type) => type === "identify")).toBe(true);
    expect(new Set(calls.map((call) => call.messageId)).size).toBe(calls.length);
    expect(calls.every((call) => typeof call.context.timezone === "string")).toBe(true);
  });

  it("rejects a CSV that is not the retail log", () => {
    expect(() => retailCallsFromCsv("id,email\n1,a@example.test\n")).toThrow(/no column InvoiceNo/);
  });
});

describe("OTTO session replay", () => {
  it("turns 862 events into 857 calls: 800 views, 52 cart adds and 5 checkouts", () => {
    const calls = ottoCallsFromJsonl(ottoJsonl);

    expect(calls).toHaveLength(857);
    expect(countBy(calls, (call) => call.event === "Product Viewed")).toBe(800);
    expect(countBy(calls, (call) => call.event === "Product Added")).toBe(52);
    const orders = calls.filter((call) => call.event === "Order Completed");
    expect(orders.map((order) => (order.properties?.products as unknown[]).length)).toEqual([
      1, 2, 3, 2, 2,
    ]);
  });

  it("groups one checkout of session 3 into one order", () => {
    const calls = ottoCallsFromJsonl(ottoJsonl);

    expect(calls.find((call) => call.messageId === "otto-3-order-1659390912679")).toMatchObject({
      anonymousId: "otto-3",
      properties: {
        order_id: "otto-3-1659390912679",
        cart_id: "otto-cart-3",
        products: [{ product_id: 357461 }, { product_id: 1343406 }, { product_id: 1425967 }],
      },
      timestamp: "2022-08-01T21:55:12.679Z",
      context: { timezone: "Europe/Berlin" },
    });
  });

  it("keeps every visitor anonymous, with unique ids and calls in time order", () => {
    const calls = ottoCallsFromJsonl(ottoJsonl);

    expect(new Set(calls.map((call) => call.anonymousId)).size).toBe(20);
    expect(calls.every((call) => call.userId === undefined)).toBe(true);
    expect(new Set(calls.map((call) => call.messageId)).size).toBe(857);
    const timestamps = calls.map((call) => call.timestamp);
    expect(timestamps).toEqual([...timestamps].sort());
    expect(timestamps[0]).toBe("2022-07-31T22:00:00.025Z");
    expect(timestamps.at(-1)).toBe("2022-08-28T21:59:57.885Z");
  });
});
