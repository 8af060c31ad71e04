CREATE TABLE `contacts` (
	`id` text PRIMARY KEY NOT NULL,
	`traits` text NOT NULL,
	`email` text,
	`phone` text,
	`timezone` text,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `engagements` (
	`message_id` text NOT NULL,
	`kind` text NOT NULL,
	`at_ms` integer NOT NULL,
	`contact_id` text NOT NULL,
	`scenario_id` text,
	`step_id` text,
	`machine` integer NOT NULL,
	`reason` text,
	`url` text,
	`source` text NOT NULL,
	PRIMARY KEY(`message_id`, `kind`, `at_ms`)
);
--> statement-breakpoint
CREATE INDEX `engagements_scenario` ON `engagements` (`scenario_id`,`step_id`,`kind`);--> statement-breakpoint
CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`contact_id` text NOT NULL,
	`scenario_id` text,
	`scenario_version` integer,
	`run_id` text,
	`step_id` text,
	`channel` text NOT NULL,
	`template_id` text NOT NULL,
	`status` text NOT NULL,
	`provider` text,
	`provider_message_id` text,
	`subject` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`claimed_at` integer,
	`created_at` integer NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE INDEX `messages_contact` ON `messages` (`contact_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `messages_scenario` ON `messages` (`scenario_id`,`step_id`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`contact_id` text NOT NULL,
	`scenario_id` text,
	`step_id` text,
	`channel` text NOT NULL,
	`to_address` text NOT NULL,
	`subject` text,
	`title` text,
	`url` text,
	`html` text,
	`text` text,
	`headers` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `outbox_created` ON `outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `scenario_versions` (
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`document` text NOT NULL,
	`compiled` text,
	`published_at` integer NOT NULL,
	PRIMARY KEY(`id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `scenarios` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`draft` text NOT NULL,
	`current_version` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `segment_versions` (
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`document` text NOT NULL,
	`compiled` text,
	`published_at` integer NOT NULL,
	PRIMARY KEY(`id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `segments` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`draft` text NOT NULL,
	`current_version` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `step_metrics` (
	`batch_id` text NOT NULL,
	`scenario_id` text NOT NULL,
	`version` integer NOT NULL,
	`step_id` text NOT NULL,
	`metric` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`batch_id`, `scenario_id`, `version`, `step_id`, `metric`)
);
--> statement-breakpoint
CREATE INDEX `step_metrics_scenario` ON `step_metrics` (`scenario_id`,`version`);--> statement-breakpoint
CREATE TABLE `template_versions` (
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`document` text NOT NULL,
	`compiled` text,
	`published_at` integer NOT NULL,
	PRIMARY KEY(`id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `templates` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`draft` text NOT NULL,
	`current_version` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
