/**
 * Turns OTTO webshop sessions (JSON Lines) into anonymous Segment track calls: views, cart adds
 * and orders of visitors who never identify. Pure, shared by the CLI and the workerd tests.
 */
import { Temporal } from "temporal-polyfill";
import { z } from "zod";
import type { SegmentCall } from "./retail";

/** OTTO is a German shop and the sample window has no DST change there. */
export const OTTO_TIME_ZONE = "Europe/Berlin";

const ottoSessionSchema = z.object({
  session: z.number().int().nonnegative(),
  events: z.array(
    z.object({
      aid: z.number().int().nonnegative(),
      ts: z.number().int().nonnegative(),
      type: z.enum(["clicks", "carts", "orders"]),
    }),
  ),
});

type OttoSession = z.infer<typeof ottoSessionSchema>;

interface TimedCall {
  atMs: number;
  call: SegmentCall;
}

/**
 * One track per click and cart event, one "Order Completed" per checkout (the `orders` events
 * of a session sharing a timestamp), all sessions merged in time order.
 */
export function ottoCallsFromJsonl(text: string): SegmentCall[] {
  const timed = parseSessions(text).flatMap(sessionCalls);

  // Array.prototype.sort is stable, so equal instants keep session and event order.
  return timed.sort((a, b) => a.atMs - b.atMs).map(({ call }) => call);
}

function parseSessions(text: string): OttoSession[] {
  const sessions: OttoSession[] = [];
  const lines = text.split("\n");
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;

    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new Error(`OTTO line ${index + 1}: not valid JSON`);
    }
    const result = ottoSessionSchema.safeParse(json);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new Error(`OTTO line ${index + 1}, ${issue?.path.join(".")}: ${issue?.message}`);
    }
    sessions.push(result.data);
  }
  return sessions;
}

function sessionCalls(session: OttoSession): TimedCall[] {
  const anonymousId = `otto-${session.session}`;
  const cartId = `otto-cart-${session.session}`;
  const track = (input: {
    atMs: number;
    event: string;
    messageId: string;
    properties: Record<string, unknown>;
  }): TimedCall => ({
    atMs: input.atMs,
    call: {
      type: "track",
      anonymousId,
      event: input.event,
      properties: input.properties,
      // Fixed millisecond precision keeps the ISO strings sortable as text.
      timestamp: Temporal.Instant.fromEpochMilliseconds(input.atMs).toString({
        fractionalSecondDigits: 3,
      }),
      messageId: input.messageId,
      context: { timezone: OTTO_TIME_ZONE },
    },
  });

  const calls: TimedCall[] = [];
  const checkouts = new Map<number, { product_id: number }[]>();
  for (const [index, event] of session.events.entries()) {
    switch (event.type) {
      case "clicks":
        calls.push(
          track({
            atMs: event.ts,
            event: "Product Viewed",
            messageId: `otto-${session.session}-${index}-view`,
            properties: { product_id: event.aid },
          }),
        );
        break;
      case "carts":
        calls.push(
          track({
            atMs: event.ts,
            event: "Product Added",
            messageId: `otto-${session.session}-${index}-cart`,
            properties: { product_id: event.aid, cart_id: cartId },
          }),
        );
        break;
      case "orders": {
        const products = checkouts.get(event.ts);
        if (products) {
          products.push({ product_id: event.aid });
          break;
        }
        const firstProducts = [{ product_id: event.aid }];
        checkouts.set(event.ts, firstProducts);
        // The products array is shared with the map, so later items of the checkout land here.
        calls.push(
          track({
            atMs: event.ts,
            event: "Order Completed",
            messageId: `otto-${session.session}-order-${event.ts}`,
            properties: {
              order_id: `otto-${session.session}-${event.ts}`,
              cart_id: cartId,
              products: firstProducts,
            },
          }),
        );
        break;
      }
      default: {
        const unknown: never = event.type;
        throw new Error(`unknown OTTO event type ${String(unknown)}`);
      }
    }
  }
  return calls;
}
