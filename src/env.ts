export interface Env {
  DB: D1Database;
  CONTACTS: DurableObjectNamespace<import("../durable-objects/contact-object").ContactObject>;
  SENDS: Queue;
  ASSETS: Fetcher;
  WRITE_KEY: string;
  ADMIN_KEY: string;
  TRACKING_SECRET: string;
  LOG_LEVEL?: string;
  /** Public origin of this Worker, for tracking and unsubscribe links. */
  PUBLIC_URL?: string;
  POSTMARK_WEBHOOK_USER?: string;
  POSTMARK_WEBHOOK_PASSWORD?: string;
  RESEND_WEBHOOK_SECRET?: string;
  TWILIO_AUTH_TOKEN?: string;
  /** JSON, e.g. `{"email":{"max":3,"within":"P7D"}}`; empty means no cap. */
  FREQUENCY_CAPS?: string;
  /** "manual" only in the test suite: alarms are recorded and fired by the tests. */
  ALARMS?: string;
}
