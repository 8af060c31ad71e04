/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import cartReminderDocument from "../../shared/scenarios/cart-reminder.json";
import ottoJsonl from "../../shared/data/otto-sessions-sample/train.jsonl?raw";
import firstDayCsv from "../../shared/data/uci-online-retail/by-day/2010-12-01.csv?raw";
import orderConfirmationDocument from "../demo/scenarios/order-confirmation.json";
import { parseScenario, type Scenario } from "../src/engine/scenario";
import { ottoCallsFromJsonl } from "../src/replay/otto";
import { expectedOrderConfirmations, retailCallsFromCsv } from "../src/replay/retail";
import { backtest, isoWeekOf } from "../src/simulator/backtest";

function scenarioOf(document: unknown): Scenario {
  const parsed = parseScenario(document);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value;
}

const orderConfirmation = scenarioOf(orderConfirmationDocument);
const cartReminder = scenarioOf(cartReminderDocument);

const FOUR_HOURS_MS = 4 * 3_600_000;

/**
 * Sessions that add to cart and place no order within four hours of their first cart add,
 * read straight from the JSON Lines, apart from the replay and the engine.
 */
function sessionsAbandoningFirstCart(jsonl: string): { withCart: number; abandoned: number } {
  let withCart = 0;
  let abandoned = 0;
  for (const line of jsonl.split("\n").filter((text) => text.trim() !== "")) {
    const { events } = JSON.parse(line) as { events: Array<{ ts: number; type: string }> };
    const firstCart = events.find((event) => event.type === "carts");
    if (!firstCart) continue;
    withCart += 1;
    const ordered = events.some(
      (event) =>
        event.type === "orders" &&
        event.ts >= firstCart.ts &&
        event.ts <= firstCart.ts + FOUR_HOURS_MS,
    );
    if (!ordered) abandoned += 1;
  }
  return { withCart, abandoned };
}

describe("backtest", () => {
  it("labels ISO weeks from Monday in UTC, with the week-year of their Thursday", () => {
    expect(isoWeekOf(Date.parse("2010-12-01T08:26:00Z"))).toBe("2010-W48");
    expect(isoWeekOf(Date.parse("2022-07-31T23:59:59Z"))).toBe("2022-W30");
    expect(isoWeekOf(Date.parse("2022-08-01T00:00:00Z"))).toBe("2022-W31");
    expect(isoWeekOf(Date.parse("2011-01-02T12:00:00Z"))).toBe("2010-W52");
    expect(isoWeekOf(Date.parse("2008-12-29T00:00:00Z"))).toBe("2009-W01");
  });

  it("confirms every completed order of a known customer on 2010-12-01", () => {
    const report = backtest({
      scenario: orderConfirmation,
      segments: {},
      calls: retailCallsFromCsv(firstDayCsv),
    });

    const week = report.weeks.find((candidate) => candidate.week === "2010-W48");
    expect(report.weeks.map((candidate) => candidate.week)).toEqual(["2010-W48"]);
    expect(week?.sent.confirm).toBe(expectedOrderConfirmations(firstDayCsv));
    expect(week?.sent.confirm).toBe(121);
    expect(week?.entries).toBe(121);
    expect(week?.suppressed.confirm).toBe(0);
    expect(report.totals.sent).toEqual({ confirm: 121 });
  });

  it("reminds each session that abandons its first cart when re-entry is off", () => {
    const expected = sessionsAbandoningFirstCart(ottoJsonl);
    const report = backtest({
      scenario: { ...cartReminder, reentry: { policy: "once" } },
      segments: {},
      calls: ottoCallsFromJsonl(ottoJsonl),
    });

    expect(expected).toEqual({ withCart: 7, abandoned: 6 });
    expect(report.totals.contactsEntered).toBe(expected.withCart);
    expect(report.totals.entries).toBe(expected.withCart);
    expect(report.totals.sent.reminder).toBe(expected.abandoned);
    // Session 3 orders 23 h after its first cart add, after the 08:00 reminder and before the
    // next-day SMS; session 0 orders 2 minutes after its add. Both convert, the rest do not.
    expect(report.totals.sent.sms).toBe(5);
    expect(report.totals.goals).toBe(2);
  });

  /*
   * Derived by hand from the 20 sessions (times in Europe/Berlin, CEST) and the scenario's rules:
   * every cart add may enter unless a run is live or the last entry is less than one calendar day
   * old; an order exits the live run at once and converts every run entered in the 7 days before
   * it; a run with no order within 4 h sends the email at the deadline, or at 08:00 when the
   * deadline falls between 21:00 and 08:00, then the SMS one day later at the same local time.
   *
   *   session 0: 08-01 18:04 enters, orders 18:07 (exit, goal). 08-05 16:35 enters, email
   *     20:35, SMS 08-06 20:35. 08-24 12:16 enters, email 16:16, SMS 08-25 16:16; its 23:44 add
   *     falls in the live run. 08-26 23:44 enters; the order 08-27 00:29 exits it and converts
   *     it and the 08-24 run. The 08-27 23:07 add is under a day after 08-26 23:44: no entry.
   *   session 1: 08-01 00:00 enters, email 08:00 (window), SMS 08-02 08:00; its 22:32 add falls in
   *     the live run. 08-08 22:35 enters, email 08-09 08:00, SMS 08-10 08:00.
   *   session 2: 08-28 14:05 enters, email 18:05, SMS 08-29 18:05.
   *   session 3: 08-01 00:00 enters, email 08:00; the order 23:55 exits it before the SMS (goal).
   *     08-06 22:35 enters, email 08-07 08:00, SMS 08-08 08:00. 08-08 11:59 enters, email 15:59;
   *     the order 08-09 01:03 exits it (goal) and converts the 08-06 run. 08-18 14:27 enters,
   *     email 18:27, SMS 08-19 18:27. 08-21 21:19 enters, email 08-22 08:00, SMS 08-23 08:00.
   *   session 4: its order precedes its carts; 08-26 10:56 enters, email 14:56, SMS 08-27 14:56.
   *   session 5: 08-13 01:41 enters, email 08:00, SMS 08-14 08:00.
   *   session 9: 08-01 00:00 enters, email 08:00, SMS 08-02 08:00.
   *
   * Weeks are UTC: Berlin 08-01 00:00 is 07-31 22:00Z, in 2022-W30. Without the send window the
   * 08-21 21:19 run would email at 08-21 23:19Z (W33), not 08-22 06:00Z (W34).
   */
  it("counts abandoned-cart runs, messages and goals per week over the OTTO sessions", () => {
    const report = backtest({
      scenario: cartReminder,
      segments: {},
      calls: ottoCallsFromJsonl(ottoJsonl),
    });

    const rows = report.weeks.map((week) => ({
      week: week.week,
      contacts: week.contactsEntered,
      runs: week.entries,
      email: week.sent.reminder,
      sms: week.sent.sms,
      goals: week.goals,
    }));
    expect(rows).toEqual([
      { week: "2022-W30", contacts: 3, runs: 3, email: 0, sms: 0, goals: 0 },
      { week: "2022-W31", contacts: 2, runs: 3, email: 5, sms: 3, goals: 2 },
      { week: "2022-W32", contacts: 3, runs: 3, email: 3, sms: 3, goals: 2 },
      { week: "2022-W33", contacts: 1, runs: 2, email: 1, sms: 1, goals: 0 },
      { week: "2022-W34", contacts: 3, runs: 4, email: 4, sms: 3, goals: 2 },
      { week: "2022-W35", contacts: 0, runs: 0, email: 0, sms: 1, goals: 0 },
    ]);
    expect(report.totals).toMatchObject({
      contactsSeen: 20,
      contactsEntered: 7,
      entries: 15,
      sent: { reminder: 13, sms: 11 },
      suppressed: { reminder: 0, sms: 0 },
      goals: 6,
    });
  });

  it("gives the same report for the same calls", () => {
    const calls = ottoCallsFromJsonl(ottoJsonl);
    const first = backtest({ scenario: cartReminder, segments: {}, calls });
    const second = backtest({ scenario: cartReminder, segments: {}, calls });

    expect(second).toEqual(first);
  });
});
