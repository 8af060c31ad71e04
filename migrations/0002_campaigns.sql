CREATE TABLE `campaign_pages` (
	`campaign_id` text NOT NULL,
	`after_contact_id` text NOT NULL,
	`contact_count` integer NOT NULL,
	`next_after_contact_id` text,
	`done_at_ms` integer NOT NULL,
	PRIMARY KEY(`campaign_id`, `after_contact_id`)
);
--> statement-breakpoint
CREATE TABLE `campaign_recipients` (
	`campaign_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`outcome` text NOT NULL,
	`reason` text,
	`message_id` text,
	`at_ms` integer NOT NULL,
	PRIMARY KEY(`campaign_id`, `contact_id`)
);
--> statement-breakpoint
CREATE TABLE `campaigns` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`segment_id` text NOT NULL,
	`template_id` text,
	`scenario_id` text,
	`channel` text NOT NULL,
	`topic` text NOT NULL,
	`status` text NOT NULL,
	`send_at_ms` integer,
	`max_lateness_ms` integer NOT NULL,
	`started_at_ms` integer,
	`finished_at_ms` integer,
	`document` text NOT NULL,
	`total` integer DEFAULT 0 NOT NULL,
	`queued` integer DEFAULT 0 NOT NULL,
	`entered` integer DEFAULT 0 NOT NULL,
	`suppressed` integer DEFAULT 0 NOT NULL,
	`skipped` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`sent` integer DEFAULT 0 NOT NULL,
	`created_at_ms` integer NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `campaigns_due` ON `campaigns` (`status`,`send_at_ms`);