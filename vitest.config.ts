import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));

  return {
    test: {
      reporters: ["default", "./test/helpers/totals-reporter.ts"],
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  WRITE_KEY: "test-write-key",
                  ADMIN_KEY: "test-admin-key",
                  TRACKING_SECRET: "test-tracking-secret",
                  LOG_LEVEL: "silent",
                  ALARMS: "manual",
                  PUBLIC_URL: "http://parcours.test",
                  POSTMARK_WEBHOOK_USER: "postmark-user",
                  POSTMARK_WEBHOOK_PASSWORD: "postmark-password",
                  TWILIO_AUTH_TOKEN: "twilio-token",
                  TEST_MIGRATIONS: migrations,
                },
                // Tests drive the queue consumer themselves: jobs go to a queue nobody consumes.
                queueProducers: { SENDS: { queueName: "parcours-sends-test" } },
              },
            }),
          ],
          test: {
            name: "workerd",
            include: ["test/**/*.test.ts"],
            exclude: ["test/e2e/**"],
            deps: { optimizer: { ssr: { enabled: true, include: ["mjml-browser"] } } },
            setupFiles: ["./test/helpers/apply-migrations.ts"],
          },
        },
        {
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            testTimeout: 120_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
