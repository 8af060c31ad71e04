import type { EngagementKind } from "./condition";

/** One event in a contact's history, as the engine sees it. */
export interface ContactEvent {
  /** The sender's messageId: unique per contact. */
  id: string;
  type: "track" | "identify" | "page" | "screen" | "alias";
  name: string;
  properties: Record<string, unknown>;
  /** Event time given by the sender (`timestamp`), else receipt time. */
  atMs: number;
  receivedAtMs: number;
}

/** An open, click, delivery or bounce of one message. Machine engagement never resolves waits. */
export interface EngagementRecord {
  messageId: string;
  kind: EngagementKind;
  atMs: number;
  machine: boolean;
}

export type ConsentStatus = "subscribed" | "unsubscribed";

/** What the engine may read about a contact when it decides. */
export interface ContactSnapshot {
  id: string;
  traits: Record<string, unknown>;
  /** Latest `context.timezone` seen on an event. */
  contextTimeZone: string | null;
  /** Recent history, oldest first. */
  events: ContactEvent[];
  engagements: EngagementRecord[];
  /** Recent sends, newest last, for frequency caps. */
  sends?: Array<{ channel: string; marketing: boolean; atMs: number }>;
  /** Topic or `channel:<name>` → status; a topic never mentioned is subscribed. */
  consent: Record<string, ConsentStatus>;
}
