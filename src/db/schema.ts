import { integer, primaryKey, sqliteTable, text, index } from "drizzle-orm/sqlite-core";

/** Lifecycle of a scenario, template or segment definition. */
export type DefinitionStatus = "draft" | "active" | "paused" | "stopped" | "archived";

export const scenarios = sqliteTable("scenarios", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  status: text("status").$type<DefinitionStatus>().notNull(),
  draft: text("draft", { mode: "json" }).notNull(),
  currentVersion: integer("current_version"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const scenarioVersions = sqliteTable(
  "scenario_versions",
  {
    id: text("id").notNull(),
    version: integer("version").notNull(),
    document: text("document", { mode: "json" }).notNull(),
    compiled: text("compiled", { mode: "json" }),
    publishedAt: integer("published_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

export const templates = sqliteTable("templates", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  status: text("status").$type<DefinitionStatus>().notNull(),
  draft: text("draft", { mode: "json" }).notNull(),
  currentVersion: integer("current_version"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const templateVersions = sqliteTable(
  "template_versions",
  {
    id: text("id").notNull(),
    version: integer("version").notNull(),
    document: text("document", { mode: "json" }).notNull(),
    compiled: text("compiled", { mode: "json" }),
    publishedAt: integer("published_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

export const segments = sqliteTable("segments", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  status: text("status").$type<DefinitionStatus>().notNull(),
  draft: text("draft", { mode: "json" }).notNull(),
  currentVersion: integer("current_version"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const segmentVersions = sqliteTable(
  "segment_versions",
  {
    id: text("id").notNull(),
    version: integer("version").notNull(),
    document: text("document", { mode: "json" }).notNull(),
    compiled: text("compiled", { mode: "json" }),
    publishedAt: integer("published_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

/** Index of contacts, mirrored from their objects for segment queries and fan-out. */
export const contacts = sqliteTable(
  "contacts",
  {
    id: text("id").primaryKey(),
    traits: text("traits", { mode: "json" }).notNull(),
    email: text("email"),
    phone: text("phone"),
    timezone: text("timezone"),
    firstSeenAt: integer("first_seen_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
  },
  (t) => [index("contacts_phone").on(t.phone), index("contacts_email").on(t.email)],
);

export type MessageStatus = "queued" | "sending" | "sent" | "failed" | "suppressed";

/** One row per send effect; the id is the effect's idempotency key. */
export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    contactId: text("contact_id").notNull(),
    scenarioId: text("scenario_id"),
    scenarioVersion: integer("scenario_version"),
    runId: text("run_id"),
    stepId: text("step_id"),
    channel: text("channel").notNull(),
    templateId: text("template_id").notNull(),
    status: text("status").$type<MessageStatus>().notNull(),
    provider: text("provider"),
    providerMessageId: text("provider_message_id"),
    subject: text("subject"),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    claimedAt: integer("claimed_at"),
    createdAt: integer("created_at").notNull(),
    sentAt: integer("sent_at"),
  },
  (t) => [
    index("messages_contact").on(t.contactId, t.createdAt),
    index("messages_scenario").on(t.scenarioId, t.stepId),
    index("messages_provider_id").on(t.providerMessageId),
  ],
);

/** What the local outbox provider "sent": the rendered message as a provider would get it. */
export const outbox = sqliteTable(
  "outbox",
  {
    id: text("id").primaryKey(),
    contactId: text("contact_id").notNull(),
    scenarioId: text("scenario_id"),
    stepId: text("step_id"),
    channel: text("channel").notNull(),
    to: text("to_address").notNull(),
    subject: text("subject"),
    title: text("title"),
    url: text("url"),
    html: text("html"),
    text: text("text"),
    headers: text("headers", { mode: "json" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("outbox_created").on(t.createdAt)],
);

/**
 * Step counters per scenario version, one row per reporting batch so that a redelivered batch
 * counts once; figures are sums over batches.
 */
export const stepMetrics = sqliteTable(
  "step_metrics",
  {
    batchId: text("batch_id").notNull(),
    scenarioId: text("scenario_id").notNull(),
    version: integer("version").notNull(),
    stepId: text("step_id").notNull(),
    metric: text("metric").notNull(),
    count: integer("count").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.batchId, t.scenarioId, t.version, t.stepId, t.metric] }),
    index("step_metrics_scenario").on(t.scenarioId, t.version),
  ],
);

/** Opens, clicks, deliveries, bounces and complaints of messages, human or machine. */
export const engagements = sqliteTable(
  "engagements",
  {
    messageId: text("message_id").notNull(),
    kind: text("kind").notNull(),
    atMs: integer("at_ms").notNull(),
    contactId: text("contact_id").notNull(),
    scenarioId: text("scenario_id"),
    stepId: text("step_id"),
    machine: integer("machine", { mode: "boolean" }).notNull(),
    reason: text("reason"),
    url: text("url"),
    source: text("source").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.kind, t.atMs] }),
    index("engagements_scenario").on(t.scenarioId, t.stepId, t.kind),
  ],
);

/** Segment membership, mirrored by each contact's object whenever it changes. */
export const segmentMembers = sqliteTable(
  "segment_members",
  {
    segmentId: text("segment_id").notNull(),
    contactId: text("contact_id").notNull(),
    updatedAtMs: integer("updated_at_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.segmentId, t.contactId] })],
);

export type CampaignStatus =
  "draft" | "scheduled" | "running" | "finished" | "expired" | "cancelled";

/** The channels a campaign may broadcast on. */
export type CampaignChannel = "email" | "sms" | "push";

/**
 * A broadcast of a template, or an enrolment into a scenario, to a segment. The counts are a
 * cache of `campaign_recipients` joined with `messages`, refreshed by the fan-out.
 */
export const campaigns = sqliteTable(
  "campaigns",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    segmentId: text("segment_id").notNull(),
    templateId: text("template_id"),
    scenarioId: text("scenario_id"),
    channel: text("channel").$type<CampaignChannel>().notNull(),
    topic: text("topic").notNull(),
    status: text("status").$type<CampaignStatus>().notNull(),
    sendAtMs: integer("send_at_ms"),
    maxLatenessMs: integer("max_lateness_ms").notNull(),
    startedAtMs: integer("started_at_ms"),
    finishedAtMs: integer("finished_at_ms"),
    document: text("document", { mode: "json" }).notNull(),
    total: integer("total").notNull().default(0),
    queued: integer("queued").notNull().default(0),
    entered: integer("entered").notNull().default(0),
    suppressed: integer("suppressed").notNull().default(0),
    skipped: integer("skipped").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    sent: integer("sent").notNull().default(0),
    createdAtMs: integer("created_at_ms").notNull(),
    updatedAtMs: integer("updated_at_ms").notNull(),
  },
  (t) => [index("campaigns_due").on(t.status, t.sendAtMs)],
);

/** What the fan-out got for one contact of a campaign; `queued` means a send job was queued. */
export type RecipientOutcome = "queued" | "entered" | "suppressed" | "skipped" | "failed";

/** One row per contact a campaign reached: the first outcome is kept, so a repeat is harmless. */
export const campaignRecipients = sqliteTable(
  "campaign_recipients",
  {
    campaignId: text("campaign_id").notNull(),
    contactId: text("contact_id").notNull(),
    outcome: text("outcome").$type<RecipientOutcome>().notNull(),
    reason: text("reason"),
    messageId: text("message_id"),
    atMs: integer("at_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.contactId] })],
);

/**
 * Pages of the fan-out that are done, keyed by the cursor they started after ('' for the first);
 * `nextAfterContactId` is null on the last page.
 */
export const campaignPages = sqliteTable(
  "campaign_pages",
  {
    campaignId: text("campaign_id").notNull(),
    afterContactId: text("after_contact_id").notNull(),
    contactCount: integer("contact_count").notNull(),
    nextAfterContactId: text("next_after_contact_id"),
    doneAtMs: integer("done_at_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.afterContactId] })],
);
