export interface Env {
  DB: D1Database;
  CONTACTS: DurableObjectNamespace;
  SENDS: Queue;
  ASSETS: Fetcher;
  WRITE_KEY: string;
  ADMIN_KEY: string;
  TRACKING_SECRET: string;
  OUTBOX_PROVIDER: string;
}
