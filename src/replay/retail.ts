/**
 * Turns a UCI "Online Retail" day file into the Segment calls a shop would have sent: an
 * identify the first time a customer buys, then one track per invoice. Pure, so the CLI and
 * the workerd tests share it; the CLI does the posting.
 */
import Papa from "papaparse";
import { Temporal } from "temporal-polyfill";
import { z } from "zod";

/** One Segment call in the shape `@segment/analytics-node` accepts for identify and track. */
export interface SegmentCall {
  type: "identify" | "track";
  userId?: string;
  anonymousId?: string;
  event?: string;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  timestamp: string;
  messageId: string;
  context: { timezone?: string };
}

/** The retailer's zone: `InvoiceDate` is wall-clock time there. */
export const SHOP_TIME_ZONE = "Europe/London";

/** Default zone per `Country` value; covers every country in the 18 kept day files. */
export const COUNTRY_TIME_ZONES: Readonly<Record<string, string>> = {
  Australia: "Australia/Sydney",
  Bahrain: "Asia/Bahrain",
  Belgium: "Europe/Brussels",
  "Czech Republic": "Europe/Prague",
  EIRE: "Europe/Dublin",
  Finland: "Europe/Helsinki",
  France: "Europe/Paris",
  Germany: "Europe/Berlin",
  "Hong Kong": "Asia/Hong_Kong",
  Iceland: "Atlantic/Reykjavik",
  Italy: "Europe/Rome",
  Netherlands: "Europe/Amsterdam",
  Norway: "Europe/Oslo",
  Portugal: "Europe/Lisbon",
  Spain: "Europe/Madrid",
  Sweden: "Europe/Stockholm",
  Switzerland: "Europe/Zurich",
  "United Kingdom": "Europe/London",
};

const CANCELLATION_PREFIX = "C";

const retailRowSchema = z.object({
  InvoiceNo: z.string().min(1),
  StockCode: z.string().min(1),
  Description: z.string(),
  Quantity: z.string().regex(/^-?\d+$/, "an integer"),
  InvoiceDate: z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, "YYYY-MM-DD HH:MM:SS"),
  UnitPrice: z.string().regex(/^-?\d+(\.\d+)?$/, "a decimal number"),
  // The Spark copy writes the id as a float (`17850.0`); empty means an anonymous checkout.
  CustomerID: z.string().regex(/^(\d+(\.0+)?)?$/, "empty or an integer like 17850.0"),
  Country: z.string().min(1),
});

type RetailRow = z.infer<typeof retailRowSchema>;

const RETAIL_COLUMNS = retailRowSchema.keyof().options;

interface Invoice {
  invoiceNo: string;
  customerId: number | null;
  country: string;
  firstAt: Temporal.ZonedDateTime;
  lines: RetailRow[];
}

/**
 * London wall-clock `YYYY-MM-DD HH:MM:SS` as a UTC ISO instant. A time in the spring gap moves
 * forward and one in the autumn overlap takes the first (BST) occurrence, as Temporal's
 * "compatible" rule does.
 */
export function londonTimeToIso(wallClock: string): string {
  return londonTime(wallClock).toInstant().toString();
}

/** The identify and track calls of one day file, in time order. */
export function retailCallsFromCsv(csvText: string): SegmentCall[] {
  const invoices = groupInvoices(parseRows(csvText));

  const calls: SegmentCall[] = [];
  const identified = new Set<number>();
  for (const invoice of invoices) {
    if (invoice.customerId !== null && !identified.has(invoice.customerId)) {
      identified.add(invoice.customerId);
      calls.push(identifyCall(invoice, invoice.customerId));
    }
    calls.push(orderCall(invoice));
  }
  return calls;
}

/**
 * Completed (non-`C`) invoices that carry a CustomerID: the order confirmations an engine
 * should send. Counted straight from the rows, apart from `retailCallsFromCsv`, so a test
 * comparing the engine's outbox with it does not trust the code under test.
 */
export function expectedOrderConfirmations(csvText: string): number {
  const parsed = Papa.parse<Record<string, string>>(csvText, {
    header: true,
    skipEmptyLines: true,
  });
  const invoiceNos = new Set<string>();
  for (const row of parsed.data) {
    const invoiceNo = row.InvoiceNo ?? "";
    const customerId = (row.CustomerID ?? "").trim();
    if (invoiceNo !== "" && !invoiceNo.startsWith(CANCELLATION_PREFIX) && customerId !== "") {
      invoiceNos.add(invoiceNo);
    }
  }
  return invoiceNos.size;
}

function parseRows(csvText: string): RetailRow[] {
  const parsed = Papa.parse<Record<string, string>>(csvText, {
    header: true,
    skipEmptyLines: true,
  });
  const missing = RETAIL_COLUMNS.filter((column) => !parsed.meta.fields?.includes(column));
  if (missing.length > 0) {
    throw new Error(`not a UCI Online Retail CSV: no column ${missing.join(", ")}`);
  }
  const parseError = parsed.errors[0];
  if (parseError) {
    throw new Error(`retail CSV row ${(parseError.row ?? 0) + 2}: ${parseError.message}`);
  }

  return parsed.data.map((raw, index) => {
    const result = retailRowSchema.safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0];
      // Row numbers count the header line, so they match what an editor shows.
      throw new Error(
        `retail CSV row ${index + 2}, ${issue?.path.join(".") ?? "row"}: ${issue?.message}`,
      );
    }
    return result.data;
  });
}

/** Invoices ordered by their first line's time; equal times keep file order. */
function groupInvoices(rows: RetailRow[]): Invoice[] {
  const byNumber = new Map<string, Invoice>();
  for (const row of rows) {
    const at = londonTime(row.InvoiceDate);
    const invoice = byNumber.get(row.InvoiceNo);
    if (invoice) {
      invoice.lines.push(row);
      // A few invoices straddle a minute boundary; the order happened at its first line.
      if (Temporal.ZonedDateTime.compare(at, invoice.firstAt) < 0) invoice.firstAt = at;
      continue;
    }
    byNumber.set(row.InvoiceNo, {
      invoiceNo: row.InvoiceNo,
      customerId: row.CustomerID === "" ? null : Number.parseInt(row.CustomerID, 10),
      country: row.Country,
      firstAt: at,
      lines: [row],
    });
  }
  return [...byNumber.values()].sort((a, b) =>
    Temporal.ZonedDateTime.compare(a.firstAt, b.firstAt),
  );
}

function identifyCall(invoice: Invoice, customerId: number): SegmentCall {
  return {
    type: "identify",
    userId: `c${customerId}`,
    traits: {
      email: `c${customerId}@example.test`,
      country: invoice.country,
      customer_id: customerId,
    },
    timestamp: invoice.firstAt.toInstant().toString(),
    messageId: `uci-identify-${customerId}-${invoice.firstAt.toPlainDate().toString()}`,
    context: { timezone: timeZoneOf(invoice.country) },
  };
}

function orderCall(invoice: Invoice): SegmentCall {
  const cancelled = invoice.invoiceNo.startsWith(CANCELLATION_PREFIX);
  // Prices have at most two decimals, so summing in whole pence is exact.
  let totalPence = 0;
  const products = invoice.lines.map((line) => {
    const quantity = Number.parseInt(line.Quantity, 10);
    const price = Number(line.UnitPrice);
    totalPence += quantity * Math.round(price * 100);
    return { sku: line.StockCode, name: line.Description, quantity, price };
  });

  const who =
    invoice.customerId === null
      ? { anonymousId: `anon-${invoice.invoiceNo}` }
      : { userId: `c${invoice.customerId}` };
  return {
    type: "track",
    ...who,
    event: cancelled ? "Order Cancelled" : "Order Completed",
    properties: {
      order_id: invoice.invoiceNo,
      total: totalPence / 100,
      currency: "GBP",
      products,
    },
    timestamp: invoice.firstAt.toInstant().toString(),
    messageId: `uci-${invoice.invoiceNo}`,
    context: { timezone: timeZoneOf(invoice.country) },
  };
}

function londonTime(wallClock: string): Temporal.ZonedDateTime {
  return Temporal.PlainDateTime.from(wallClock).toZonedDateTime(SHOP_TIME_ZONE);
}

/**
 * The other 287 day files name countries missing from the map (USA, "Unspecified", …); those
 * fall back to the shop's own zone rather than failing the whole replay.
 */
function timeZoneOf(country: string): string {
  return COUNTRY_TIME_ZONES[country] ?? SHOP_TIME_ZONE;
}
