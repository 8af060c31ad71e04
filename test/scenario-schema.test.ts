/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { parseScenario } from "../src/engine/scenario";

const sharedFiles = import.meta.glob<unknown>("../../shared/scenarios/*.json", {
  eager: true,
  import: "default",
});

const shared = Object.fromEntries(
  Object.entries(sharedFiles).map(([path, doc]) => [
    path.split("/").pop()?.replace(".json", ""),
    doc,
  ]),
);

const scenarioNames = Object.keys(shared).filter((name) => name !== "segments");

function real(name: string): Record<string, unknown> {
  const doc = shared[name];
  if (!doc) throw new Error(`no shared scenario named ${name}`);
  return structuredClone(doc) as Record<string, unknown>;
}

/** A real scenario with each dotted path set to a value; `undefined` removes the field. */
function edited(name: string, edits: Array<[path: string, value: unknown]>): unknown {
  const doc = real(name);
  for (const [path, value] of edits) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    let target = doc as Record<string, unknown>;
    for (const key of keys) {
      target = target[key] as Record<string, unknown>;
      if (typeof target !== "object" || target === null) throw new Error(`no field at ${path}`);
    }
    if (value === undefined) delete target[last];
    else target[last] = value;
  }
  return doc;
}

/** The distinct issue paths of a document; empty when it is accepted. */
function issuePaths(doc: unknown): string[] {
  const result = parseScenario(doc);
  if (result.ok) return [];
  return [...new Set(result.issues.map((issue) => issue.path))];
}

function issueMessages(doc: unknown): string[] {
  const result = parseScenario(doc);
  return result.ok ? [] : result.issues.map((issue) => issue.message);
}

describe("shared scenarios", () => {
  it("finds every scenario file beside SCENARIOS.md", () => {
    expect(scenarioNames.sort()).toEqual([
      "birthday-offer",
      "birthday-reactivation",
      "cart-reminder",
      "lead-nurturing",
      "password-reset",
      "storage-almost-full",
      "trial-confirmation",
      "under-usage",
    ]);
  });

  it.each(scenarioNames)("accepts %s as written", (name) => {
    const result = parseScenario(real(name));

    expect(result.ok ? [] : result.issues).toEqual([]);
    expect(result.ok && result.value.id).toBe(name);
  });
});

describe("step types and targets", () => {
  it("rejects an unknown step type at the step's type", () => {
    const doc = edited("cart-reminder", [["steps.reminder.type", "email"]]);

    expect(issuePaths(doc)).toEqual(["steps.reminder.type"]);
  });

  it("rejects a next that names no step at that next", () => {
    const doc = edited("cart-reminder", [["steps.reminder.next", "wait-week"]]);

    expect(issuePaths(doc)).toEqual(["steps.reminder.next"]);
    expect(issueMessages(doc)).toEqual(['names no step: "wait-week"']);
  });

  it("rejects a wait_for then that names no step at that then", () => {
    const doc = edited("cart-reminder", [["steps.wait-order.then", "thanks"]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-order.then"]);
  });

  it("rejects a wait_for timeout that names no step at that timeout", () => {
    const doc = edited("under-usage", [["steps.wait-upload.timeout", "sms"]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-upload.timeout"]);
  });

  it("rejects a branch else that names no step at that else", () => {
    const doc = edited("cart-reminder", [["steps.check.else", "push"]]);

    expect(issuePaths(doc)).toEqual(["steps.check.else"]);
  });

  it("rejects a branch case next that names no step at that case", () => {
    const doc = edited("lead-nurturing", [["steps.hot.cases.0.next", "call"]]);

    expect(issuePaths(doc)).toEqual(["steps.hot.cases.0.next"]);
  });

  it("rejects a start that names no step", () => {
    const doc = edited("password-reset", [["start", "send"]]);

    expect(issuePaths(doc)).toEqual(["start"]);
  });

  it("rejects a step no path from start reaches, at that step", () => {
    const doc = edited("cart-reminder", [["steps.push", { type: "exit" }]]);

    expect(issuePaths(doc)).toEqual(["steps.push"]);
    expect(issueMessages(doc)).toEqual(["is unreachable from start"]);
  });

  it("rejects a loop of send and update with no wait in it", () => {
    const doc = edited("cart-reminder", [
      ["steps.sms.next", "count-sms"],
      ["steps.count-sms", { type: "update", increment: { sms_sent: 1 }, next: "sms" }],
    ]);

    expect(issuePaths(doc)).toEqual(["steps.sms"]);
    expect(issueMessages(doc)).toEqual(["loop without a wait: sms -> count-sms -> sms"]);
  });

  it("accepts a loop that passes through a wait", () => {
    const doc = edited("cart-reminder", [["steps.sms.next", "wait-day"]]);

    expect(issuePaths(doc)).toEqual([]);
  });

  it("accepts a loop that passes through a wait_for", () => {
    const doc = edited("under-usage", [["steps.push.next", "wait-upload"]]);

    expect(issuePaths(doc)).toEqual([]);
  });
});

describe("durations", () => {
  it("rejects an empty within as empty", () => {
    const doc = edited("cart-reminder", [["steps.wait-order.within", ""]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-order.within"]);
    expect(issueMessages(doc)).toContain("duration is empty");
  });

  it.each(["4 hours", "P", "PT", "P1DT", "4H", "P1.5D", "PT4h"])(
    "rejects the malformed within %j",
    (within) => {
      const doc = edited("cart-reminder", [["steps.wait-order.within", within]]);

      expect(issuePaths(doc)).toEqual(["steps.wait-order.within"]);
    },
  );

  it.each(["PT4H", "PT30M", "P1DT12H", "P1W", "P1M", "PT90S"])(
    "accepts the well-formed within %j",
    (within) => {
      const doc = edited("cart-reminder", [["steps.wait-order.within", within]]);

      expect(issuePaths(doc)).toEqual([]);
    },
  );

  it("rejects a malformed wait duration, re-entry delay and goal window at their fields", () => {
    const doc = edited("cart-reminder", [
      ["steps.wait-day.duration", "1 day"],
      ["reentry.after", "P"],
      ["goal.within", "7 days"],
    ]);

    expect(issuePaths(doc).sort()).toEqual([
      "goal.within",
      "reentry.after",
      "steps.wait-day.duration",
    ]);
  });

  it.each(["-PT4H", "+PT4H"])("rejects the signed within %j", (within) => {
    const doc = edited("cart-reminder", [["steps.wait-order.within", within]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-order.within"]);
  });

  it("rejects a signed within in a condition's event count, which would count from the future", () => {
    const doc = edited("under-usage", [["audience.within", "-P365D"]]);

    expect(issuePaths(doc)).toEqual(["audience.within"]);
  });

  it("accepts a signed offset on a date trigger", () => {
    const doc = edited("birthday-offer", [["trigger.offset", "-P7D"]]);

    expect(issuePaths(doc)).toEqual([]);
  });

  it("rejects a malformed within in a condition's event count", () => {
    const doc = edited("under-usage", [["audience.within", "a year"]]);

    expect(issuePaths(doc)).toEqual(["audience.within"]);
  });
});

describe("field rules", () => {
  it.each(["Cart-Reminder", "cart reminder", "", "x".repeat(65)])("rejects the id %j", (id) => {
    expect(issuePaths(edited("cart-reminder", [["id", id]]))).toEqual(["id"]);
  });

  it("rejects a wait with both a duration and an until", () => {
    const doc = edited("cart-reminder", [["steps.wait-day.until", { at: "09:00" }]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-day.duration"]);
  });

  it("rejects a wait with neither a duration nor an until", () => {
    const doc = edited("cart-reminder", [["steps.wait-day.duration", undefined]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-day.duration"]);
  });

  it("accepts a wait until a local time on given days", () => {
    const doc = edited("cart-reminder", [
      ["steps.wait-day.duration", undefined],
      ["steps.wait-day.until", { at: "09:00", days: ["mon", "fri"] }],
    ]);

    expect(issuePaths(doc)).toEqual([]);
  });

  it("rejects a wait_for with both an event and an engagement", () => {
    const doc = edited("cart-reminder", [
      ["steps.wait-order.engagement", { step: "reminder", kind: "clicked" }],
    ]);

    expect(issuePaths(doc)).toEqual(["steps.wait-order.event"]);
  });

  it("rejects an engagement that names a step which is not a send", () => {
    const doc = edited("birthday-offer", [["steps.wait-open.engagement.step", "wait-open"]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-open.engagement.step"]);
    expect(issueMessages(doc)).toEqual(['must name a send step: "wait-open"']);
  });

  it("rejects an engagement that names no step", () => {
    const doc = edited("birthday-offer", [["steps.wait-open.engagement.step", "teaser"]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-open.engagement.step"]);
  });

  it("rejects an unknown engagement kind", () => {
    const doc = edited("birthday-offer", [["steps.wait-open.engagement.kind", "read"]]);

    expect(issuePaths(doc)).toEqual(["steps.wait-open.engagement.kind"]);
  });

  it("rejects an unknown trigger type at the trigger's type", () => {
    const doc = edited("cart-reminder", [["trigger", { type: "webhook", event: "Product Added" }]]);

    expect(issuePaths(doc)).toEqual(["trigger.type"]);
  });

  it.each(["25:00", "24:00", "9:00", "08:60", "0800"])(
    "rejects the send window opening %j",
    (from) => {
      const doc = edited("cart-reminder", [["sendWindow.from", from]]);

      expect(issuePaths(doc)).toEqual(["sendWindow.from"]);
    },
  );

  it("rejects a date trigger at 25:00", () => {
    const doc = edited("birthday-offer", [["trigger.at", "25:00"]]);

    expect(issuePaths(doc)).toEqual(["trigger.at"]);
  });

  it("rejects an unknown send window day", () => {
    const doc = edited("cart-reminder", [["sendWindow.days", ["mon", "someday"]]]);

    expect(issuePaths(doc)).toEqual(["sendWindow.days.1"]);
  });

  it("rejects a ref outside trigger, contact, event and run at the ref", () => {
    const doc = edited("cart-reminder", [
      ["steps.wait-order.event.where.value", { ref: "env.ADMIN_KEY" }],
    ]);

    expect(issuePaths(doc)).toEqual(["steps.wait-order.event.where.value.ref"]);
  });

  it.each(["trigger.properties.cart_id", "contact.cart_id", "event.properties.cart_id"])(
    "accepts the ref %j",
    (ref) => {
      const doc = edited("cart-reminder", [["steps.wait-order.event.where.value", { ref }]]);

      expect(issuePaths(doc)).toEqual([]);
    },
  );

  it("rejects an unknown comparison operator at its condition", () => {
    const doc = edited("lead-nurturing", [["steps.hot.cases.0.if.op", "at_least"]]);

    expect(issuePaths(doc)).toEqual(["steps.hot.cases.0.if"]);
  });

  it("rejects an unknown field on a step", () => {
    const doc = edited("password-reset", [["steps.send-link.subject", "Reset"]]);

    expect(issuePaths(doc)).toEqual(["steps.send-link"]);
  });

  it("rejects an unknown channel", () => {
    const doc = edited("password-reset", [["steps.send-link.channel", "fax"]]);

    expect(issuePaths(doc)).toEqual(["steps.send-link.channel"]);
  });
});
