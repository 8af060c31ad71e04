export interface Env {
  DB: D1Database;
  CONTACTS: DurableObjectNamespace<import("../durable-objects/contact-object").ContactObject>;
  SENDS: Queue;
  ASSETS: Fetcher;
  WRITE_KEY: string;
  ADMIN_KEY: string;
  TRACKING_SECRET: string;
  LOG_LEVEL?: string;
}
