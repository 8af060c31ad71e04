CREATE TABLE `segment_members` (
	`segment_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`updated_at_ms` integer NOT NULL,
	PRIMARY KEY(`segment_id`, `contact_id`)
);
