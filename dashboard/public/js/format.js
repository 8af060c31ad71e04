/** Turns engine values (epoch ms, ISO 8601 durations, conditions, triggers) into plain words. */

const numberFormat = new Intl.NumberFormat();
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

const RELATIVE_UNITS = [
  ["year", 365 * 24 * 3600_000],
  ["month", 30 * 24 * 3600_000],
  ["day", 24 * 3600_000],
  ["hour", 3600_000],
  ["minute", 60_000],
  ["second", 1000],
];

const DURATION_UNITS = { Y: "year", M: "month", W: "week", D: "day" };
const TIME_UNITS = { H: "hour", M: "minute", S: "second" };

const OPERATORS = {
  eq: "=",
  ne: "≠",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
  in: "in",
  not_in: "not in",
  contains: "contains",
  starts_with: "starts with",
  exists: "exists",
  not_exists: "does not exist",
};

export function count(value) {
  return numberFormat.format(value ?? 0);
}

/** "42 %" of a whole, or an empty string when the whole is zero. */
export function percent(part, whole) {
  if (!whole) return "";
  return `${Math.round((100 * part) / whole)} %`;
}

export function dateTime(epochMs) {
  if (epochMs === null || epochMs === undefined) return "—";
  return dateTimeFormat.format(new Date(epochMs));
}

export function clockTime(epochMs) {
  return timeFormat.format(new Date(epochMs));
}

/** "3 minutes ago", "in 2 days", relative to `nowMs`. */
export function relative(epochMs, nowMs = Date.now()) {
  if (epochMs === null || epochMs === undefined) return "—";
  const deltaMs = epochMs - nowMs;
  for (const [unit, unitMs] of RELATIVE_UNITS) {
    if (Math.abs(deltaMs) >= unitMs || unit === "second") {
      return relativeFormat.format(Math.round(deltaMs / unitMs), unit);
    }
  }
  return "";
}

/** `P1DT4H` → "1 day 4 hours"; an unreadable value is returned as written. */
export function duration(iso) {
  const match =
    /^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(
      String(iso ?? ""),
    );
  if (!match) return String(iso ?? "");
  const amounts = [
    [match[2], DURATION_UNITS.Y],
    [match[3], DURATION_UNITS.M],
    [match[4], DURATION_UNITS.W],
    [match[5], DURATION_UNITS.D],
    [match[6], TIME_UNITS.H],
    [match[7], TIME_UNITS.M],
    [match[8], TIME_UNITS.S],
  ].filter(([amount]) => amount !== undefined);
  const words = amounts.map(([amount, unit]) => `${amount} ${unit}${amount === "1" ? "" : "s"}`);
  return `${match[1] ? "minus " : ""}${words.join(" ")}`;
}

function value(raw) {
  if (raw && typeof raw === "object" && "ref" in raw) return `{${raw.ref}}`;
  if (Array.isArray(raw)) return raw.map(value).join(", ");
  return typeof raw === "string" ? `"${raw}"` : String(raw);
}

function comparison(subject, op, raw) {
  const operator = OPERATORS[op] ?? op;
  if (op === "exists" || op === "not_exists") return `${subject} ${operator}`;
  return `${subject} ${operator} ${value(raw)}`;
}

/** A condition of the scenario language in one line. */
export function condition(cond) {
  if (!cond || typeof cond !== "object") return "";
  if (cond.all) return cond.all.map(condition).join(" and ");
  if (cond.any) return `(${cond.any.map(condition).join(" or ")})`;
  if (cond.not) return `not (${condition(cond.not)})`;
  if (cond.trait) return comparison(cond.trait, cond.op, cond.value);
  if (cond.property) return comparison(cond.property, cond.op, cond.value);
  if (cond.segment) return `in segment ${cond.segment}`;
  if (cond.engagement) return `${cond.engagement.kind} ${cond.engagement.step}`;
  if (cond.event) {
    const times = cond.count
      ? ` ${OPERATORS[cond.count.op] ?? cond.count.op} ${cond.count.value}×`
      : "";
    const within = cond.within ? ` in ${duration(cond.within)}` : "";
    return `${cond.event}${times}${within}`;
  }
  return JSON.stringify(cond);
}

/** What makes a contact enter, in a short sentence. */
export function trigger(trig) {
  if (!trig) return "—";
  switch (trig.type) {
    case "event":
      return `Event “${trig.event}”${trig.where ? ` where ${condition(trig.where)}` : ""}`;
    case "segment":
      return `${trig.on === "exit" ? "Leaves" : "Enters"} segment ${trig.segment}`;
    case "date": {
      const offset = trig.offset ? ` ${duration(trig.offset)}` : "";
      return `Anniversary of ${trig.trait}${offset}${trig.at ? ` at ${trig.at}` : ""}`;
    }
    case "condition":
      return `Becomes true: ${condition(trig.condition)}`;
    case "inactivity":
      return `No “${trig.event}” for ${duration(trig.for)}`;
    case "campaign":
      return `Campaign ${trig.campaign}`;
    case "api":
      return "Enrolled through the API";
    default:
      return trig.type ?? "—";
  }
}

/** A contact's display name from its traits, else its email, else its id. */
export function contactName(contact) {
  const traits = contact.traits ?? {};
  const name = [traits.first_name, traits.last_name].filter(Boolean).join(" ") || traits.name;
  return name || contact.email || traits.email || contact.id;
}
