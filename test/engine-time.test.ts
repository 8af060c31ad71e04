import { Temporal } from "temporal-polyfill";
import { describe, expect, it } from "vitest";
import { addDuration, addIsoDuration, parseDuration } from "../src/engine/duration";
import {
  formatLocal,
  localInstantMs,
  nextLocalTime,
  nextWindowOpening,
  resolveTimeZone,
  type SendWindow,
} from "../src/engine/time-zone";

const HOUR_MS = 3_600_000;

/** The instant of a local wall-clock time such as `2026-03-28T09:00` in a zone. */
function local(wallClock: string, timeZone: string): number {
  return Temporal.PlainDateTime.from(wallClock).toZonedDateTime(timeZone).epochMilliseconds;
}

function added(input: { from: string; iso: string; timeZone: string }) {
  const atMs = local(input.from, input.timeZone);
  const dueMs = addIsoDuration({ atMs, iso: input.iso, timeZone: input.timeZone });
  return { local: formatLocal(dueMs, input.timeZone), hours: (dueMs - atMs) / HOUR_MS };
}

describe("parseDuration", () => {
  it("splits calendar and exact parts", () => {
    expect(parseDuration("P1Y2M3W4DT5H6M7.5S")).toEqual({
      sign: 1,
      years: 1,
      months: 2,
      weeks: 3,
      days: 4,
      hours: 5,
      minutes: 6,
      seconds: 7.5,
    });
  });

  it("reads a leading minus as a negative sign", () => {
    expect(parseDuration("-P7D")).toMatchObject({ sign: -1, days: 7 });
  });

  it.each(["", "P", "PT", "P1DT", "4 hours", "PT4h", "P1.5D", "1D"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe("addDuration across the European spring change (2026-03-29)", () => {
  it("keeps 09:00 local for P1D, 23 hours later", () => {
    expect(added({ from: "2026-03-28T09:00", iso: "P1D", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-03-29T09:00:00+02:00",
      hours: 23,
    });
  });

  it("adds exactly 24 hours for PT24H and lands at 10:00 local", () => {
    expect(added({ from: "2026-03-28T09:00", iso: "PT24H", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-03-29T10:00:00+02:00",
      hours: 24,
    });
  });

  it("moves a calendar result in the gap forward (02:30 becomes 03:30)", () => {
    expect(added({ from: "2026-03-28T02:30", iso: "P1D", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-03-29T03:30:00+02:00",
      hours: 24,
    });
  });

  it("applies calendar parts before exact parts in P1DT2H", () => {
    expect(added({ from: "2026-03-28T09:00", iso: "P1DT2H", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-03-29T11:00:00+02:00",
      hours: 25,
    });
  });

  it("goes back to 09:00 local for -P1D, 23 hours earlier", () => {
    expect(added({ from: "2026-03-29T09:00", iso: "-P1D", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-03-28T09:00:00+01:00",
      hours: -23,
    });
  });
});

describe("addDuration across the European autumn change (2026-10-25)", () => {
  it("keeps 09:00 local for P1D, 25 hours later", () => {
    expect(added({ from: "2026-10-24T09:00", iso: "P1D", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-10-25T09:00:00+01:00",
      hours: 25,
    });
  });

  it("adds exactly 24 hours for PT24H and lands at 08:00 local", () => {
    expect(added({ from: "2026-10-24T09:00", iso: "PT24H", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-10-25T08:00:00+01:00",
      hours: 24,
    });
  });
});

describe("addDuration in America/New_York", () => {
  it("keeps 09:00 local over the spring change of 2026-03-08", () => {
    const timeZone = "America/New_York";

    expect(added({ from: "2026-03-07T09:00", iso: "P1D", timeZone })).toEqual({
      local: "2026-03-08T09:00:00-04:00",
      hours: 23,
    });
    expect(added({ from: "2026-03-07T09:00", iso: "PT24H", timeZone })).toEqual({
      local: "2026-03-08T10:00:00-04:00",
      hours: 24,
    });
  });

  it("keeps 09:00 local over the autumn change of 2026-11-01", () => {
    const timeZone = "America/New_York";

    expect(added({ from: "2026-10-31T09:00", iso: "P1D", timeZone })).toEqual({
      local: "2026-11-01T09:00:00-05:00",
      hours: 25,
    });
    expect(added({ from: "2026-10-31T09:00", iso: "PT24H", timeZone })).toEqual({
      local: "2026-11-01T08:00:00-05:00",
      hours: 24,
    });
  });

  it("keeps the local time over a week that holds the change", () => {
    expect(added({ from: "2026-03-05T18:30", iso: "P1W", timeZone: "America/New_York" })).toEqual({
      local: "2026-03-12T18:30:00-04:00",
      hours: 7 * 24 - 1,
    });
  });
});

describe("addDuration in the southern hemisphere and without DST", () => {
  it("keeps 09:00 in Pacific/Auckland when its DST ends on 2026-04-05 (25 hours)", () => {
    expect(added({ from: "2026-04-04T09:00", iso: "P1D", timeZone: "Pacific/Auckland" })).toEqual({
      local: "2026-04-05T09:00:00+12:00",
      hours: 25,
    });
  });

  it("keeps 09:00 in Pacific/Auckland when its DST starts on 2026-09-27 (23 hours)", () => {
    expect(added({ from: "2026-09-26T09:00", iso: "P1D", timeZone: "Pacific/Auckland" })).toEqual({
      local: "2026-09-27T09:00:00+13:00",
      hours: 23,
    });
  });

  it("makes P1D and PT24H the same in Asia/Tokyo, which has no DST", () => {
    const timeZone = "Asia/Tokyo";

    expect(added({ from: "2026-03-28T09:00", iso: "P1D", timeZone })).toEqual({
      local: "2026-03-29T09:00:00+09:00",
      hours: 24,
    });
    expect(added({ from: "2026-10-24T09:00", iso: "PT24H", timeZone })).toEqual({
      local: "2026-10-25T09:00:00+09:00",
      hours: 24,
    });
  });

  it("moves the same instant by different amounts depending on the zone", () => {
    const atMs = Date.UTC(2026, 2, 28, 12, 0);
    const duration = parseDuration("P1D");
    if (!duration) throw new Error("P1D must parse");

    const paris = addDuration({ atMs, duration, timeZone: "Europe/Paris" });
    const tokyo = addDuration({ atMs, duration, timeZone: "Asia/Tokyo" });

    expect((paris - atMs) / HOUR_MS).toBe(23);
    expect((tokyo - atMs) / HOUR_MS).toBe(24);
  });
});

describe("addDuration with months", () => {
  it("constrains P1M from 31 January to 28 February", () => {
    expect(added({ from: "2026-01-31T09:00", iso: "P1M", timeZone: "Europe/Paris" })).toEqual({
      local: "2026-02-28T09:00:00+01:00",
      hours: 28 * 24,
    });
  });

  it("constrains P1M from 31 January to 29 February in a leap year", () => {
    expect(added({ from: "2028-01-31T09:00", iso: "P1M", timeZone: "UTC" }).local).toBe(
      "2028-02-29T09:00:00+00:00",
    );
  });

  it("constrains P1Y from 29 February to 28 February", () => {
    expect(added({ from: "2028-02-29T10:00", iso: "P1Y", timeZone: "UTC" }).local).toBe(
      "2029-02-28T10:00:00+00:00",
    );
  });
});

describe("localInstantMs and nextLocalTime at the DST edges", () => {
  it("moves 02:30 on 2026-03-29 in Europe/Paris forward to 03:30 (+02:00), as 'compatible' does", () => {
    const afterMs = local("2026-03-28T12:00", "Europe/Paris");

    const dueMs = nextLocalTime({ afterMs, at: "02:30", timeZone: "Europe/Paris" });

    expect(formatLocal(dueMs, "Europe/Paris")).toBe("2026-03-29T03:30:00+02:00");
    expect(new Date(dueMs).toISOString()).toBe("2026-03-29T01:30:00.000Z");
  });

  it("takes the first 02:30 on 2026-10-25 in Europe/Paris, at +02:00", () => {
    const afterMs = local("2026-10-24T12:00", "Europe/Paris");

    const dueMs = nextLocalTime({ afterMs, at: "02:30", timeZone: "Europe/Paris" });

    expect(formatLocal(dueMs, "Europe/Paris")).toBe("2026-10-25T02:30:00+02:00");
    expect(new Date(dueMs).toISOString()).toBe("2026-10-25T00:30:00.000Z");
  });

  it("does not fire a second time in the repeated hour of the autumn change", () => {
    const firstMs = Date.parse("2026-10-25T00:30:00Z");

    const dueMs = nextLocalTime({ afterMs: firstMs, at: "02:30", timeZone: "Europe/Paris" });

    expect(formatLocal(dueMs, "Europe/Paris")).toBe("2026-10-26T02:30:00+01:00");
  });

  it("resolves a local date and time through the same rules", () => {
    const date = Temporal.PlainDate.from("2026-03-29");

    const gapMs = localInstantMs({ date, time: "02:30", timeZone: "Europe/Paris" });

    expect(new Date(gapMs).toISOString()).toBe("2026-03-29T01:30:00.000Z");
  });

  it("is strictly after: at 09:00 itself the next 09:00 is tomorrow", () => {
    const afterMs = local("2026-05-16T09:00", "Europe/Paris");

    const dueMs = nextLocalTime({ afterMs, at: "09:00", timeZone: "Europe/Paris" });

    expect(formatLocal(dueMs, "Europe/Paris")).toBe("2026-05-17T09:00:00+02:00");
  });

  it("skips to the next allowed weekday in Asia/Tokyo", () => {
    const saturdayMs = local("2026-05-16T10:00", "Asia/Tokyo");

    const dueMs = nextLocalTime({
      afterMs: saturdayMs,
      at: "09:00",
      days: ["mon"],
      timeZone: "Asia/Tokyo",
    });

    expect(formatLocal(dueMs, "Asia/Tokyo")).toBe("2026-05-18T09:00:00+09:00");
    expect(new Date(dueMs).toISOString()).toBe("2026-05-18T00:00:00.000Z");
  });

  it("counts the local date in Pacific/Auckland, a day ahead of UTC", () => {
    const afterMs = Date.parse("2026-04-04T20:00:00Z");

    const dueMs = nextLocalTime({ afterMs, at: "09:00", timeZone: "Pacific/Auckland" });

    expect(formatLocal(dueMs, "Pacific/Auckland")).toBe("2026-04-05T09:00:00+12:00");
    expect(new Date(dueMs).toISOString()).toBe("2026-04-04T21:00:00.000Z");
  });

  it("moves 02:30 in the Pacific/Auckland spring gap forward to 03:30 (+13:00)", () => {
    const afterMs = local("2026-09-26T12:00", "Pacific/Auckland");

    const dueMs = nextLocalTime({ afterMs, at: "02:30", timeZone: "Pacific/Auckland" });

    expect(formatLocal(dueMs, "Pacific/Auckland")).toBe("2026-09-27T03:30:00+13:00");
  });
});

describe("nextWindowOpening", () => {
  const quietHours: SendWindow = {
    from: "08:00",
    to: "21:00",
    days: ["mon", "tue", "wed", "thu", "fri", "sat"],
  };

  const opening = (wallClock: string, window = quietHours, timeZone = "Europe/Paris") =>
    formatLocal(
      nextWindowOpening({ atMs: local(wallClock, timeZone), window, timeZone }),
      timeZone,
    );

  it("holds a Saturday 22:00 send until Monday 08:00", () => {
    expect(opening("2026-05-16T22:00")).toBe("2026-05-18T08:00:00+02:00");
  });

  it("holds a Sunday noon send until Monday 08:00", () => {
    expect(opening("2026-05-17T12:00")).toBe("2026-05-18T08:00:00+02:00");
  });

  it("holds a Friday 23:30 send until Saturday 08:00", () => {
    expect(opening("2026-05-15T23:30")).toBe("2026-05-16T08:00:00+02:00");
  });

  it("holds a Monday 07:59 send one minute", () => {
    expect(opening("2026-05-18T07:59")).toBe("2026-05-18T08:00:00+02:00");
  });

  it("lets a send at 08:00 and at 20:59 go at once", () => {
    expect(opening("2026-05-18T08:00")).toBe("2026-05-18T08:00:00+02:00");
    expect(opening("2026-05-16T20:59")).toBe("2026-05-16T20:59:00+02:00");
  });

  it("treats 21:00 as closed", () => {
    expect(opening("2026-05-15T21:00")).toBe("2026-05-16T08:00:00+02:00");
  });

  it("opens at 08:00 local on the Sunday the clocks go forward", () => {
    const everyDay: SendWindow = { from: "08:00", to: "21:00" };

    expect(opening("2026-03-28T22:00", everyDay)).toBe("2026-03-29T08:00:00+02:00");
  });

  it("keeps a window that spans midnight open on both sides of it", () => {
    const night: SendWindow = { from: "22:00", to: "06:00" };

    expect(opening("2026-05-16T23:00", night, "UTC")).toBe("2026-05-16T23:00:00+00:00");
    expect(opening("2026-05-16T05:00", night, "UTC")).toBe("2026-05-16T05:00:00+00:00");
    expect(opening("2026-05-16T12:00", night, "UTC")).toBe("2026-05-16T22:00:00+00:00");
  });

  it("uses the contact's clock: 22:00 in Paris is 05:00 the next day in Tokyo", () => {
    const atMs = local("2026-05-12T22:00", "Europe/Paris");
    const window: SendWindow = { from: "08:00", to: "21:00" };

    const tokyoMs = nextWindowOpening({ atMs, window, timeZone: "Asia/Tokyo" });

    expect(formatLocal(tokyoMs, "Asia/Tokyo")).toBe("2026-05-13T08:00:00+09:00");
  });
});

describe("resolveTimeZone", () => {
  it("takes the first valid zone in order", () => {
    expect(resolveTimeZone(["Asia/Tokyo", "Europe/Paris"])).toBe("Asia/Tokyo");
  });

  it("skips an invalid, empty or non-string zone and falls back to the next", () => {
    expect(resolveTimeZone(["Mars/Olympus_Mons", "", 42, null, "Europe/Paris"])).toBe(
      "Europe/Paris",
    );
  });

  it("falls back to UTC when no candidate is valid", () => {
    expect(resolveTimeZone([undefined, "Nowhere/Special", "+25:00"])).toBe("UTC");
  });
});
