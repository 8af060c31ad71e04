import type { Env } from "../src/env";
import type { ContactObject } from "./contact-object";

/** The contact object's RPC surface, as plain async methods. */
export type ContactRpc = Pick<
  ContactObject,
  | "ingest"
  | "authorizeSend"
  | "recordEngagement"
  | "recordDelivery"
  | "setConsent"
  | "enrol"
  | "enterCampaign"
  | "handOverTo"
  | "sync"
  | "view"
  | "dispatchedJobs"
  | "erase"
>;

/** The object of one contact, addressed by its id. */
export function contactStub(env: Env, contactId: string): ContactRpc {
  const stub = env.CONTACTS.get(env.CONTACTS.idFromName(contactId));
  // Rpc.Stub maps `unknown` (traits, properties) to `never`; the values are plain JSON, which
  // structured clone carries unchanged, so the class's own signatures hold.
  return stub as unknown as ContactRpc;
}
