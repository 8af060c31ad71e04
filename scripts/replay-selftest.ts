/**
 * Checks the replay CLI end to end without Parcours: a local HTTP server stands in for the
 * engine, records what the Segment client posts, and answers 200, 401 or 400 as told.
 *
 *   npx tsx scripts/replay-selftest.ts [day file]
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expectedOrderConfirmations, retailCallsFromCsv } from "../src/replay/retail";
import { replay, ReplayError } from "./replay";

const WRITE_KEY = "selftest-write-key";
const DEFAULT_DAY_FILE = path.resolve(
  import.meta.dirname,
  "../../shared/data/uci-online-retail/by-day/2010-12-01.csv",
);

interface RecordedBatch {
  method: string;
  path: string;
  authorization: string;
  body: {
    batch: Array<{ type: string; messageId: string; event?: string; userId?: string }>;
    writeKey: string;
  };
}

/** A stand-in engine on a free port; `status` decides every answer. */
async function startFakeEngine(status: number) {
  const batches: RecordedBatch[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method === "POST") {
        batches.push({
          method: request.method,
          path: request.url ?? "",
          authorization: request.headers.authorization ?? "",
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        });
      }
      response.writeHead(request.method === "POST" ? status : 404, {
        "content-type": "application/json",
      });
      response.end(status === 200 ? '{"ok":true}' : '{"error":"refused"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    batches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function expectReplayError(run: Promise<unknown>, pattern: RegExp): Promise<string> {
  const error = await run.then(
    () => assert.fail("replay succeeded but should have failed"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ReplayError, `expected a ReplayError, got ${String(error)}`);
  assert.match(error.message, pattern);
  return error.message;
}

async function main(): Promise<void> {
  const dayFile = path.resolve(process.argv[2] ?? DEFAULT_DAY_FILE);
  const csvText = await readFile(dayFile, "utf8");
  const expectedCalls = retailCallsFromCsv(csvText);
  const options = { paths: [dayFile], writeKey: WRITE_KEY, dryRun: false, showProgress: false };

  const engine = await startFakeEngine(200);
  const summary = await replay({ ...options, engineUrl: engine.url }).finally(engine.close);
  const expectedAuthorization = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`;
  for (const batch of engine.batches) {
    assert.equal(batch.path, "/v1/batch");
    assert.equal(batch.authorization, expectedAuthorization);
    assert.equal(batch.body.writeKey, WRITE_KEY);
  }
  const received = engine.batches.flatMap((batch) => batch.body.batch);
  assert.deepEqual(
    received.map((event) => event.messageId),
    expectedCalls.map((call) => call.messageId),
    "every call arrives once, in order",
  );
  const confirmations = received.filter(
    (event) => event.event === "Order Completed" && event.userId !== undefined,
  );
  assert.equal(summary.calls, received.length);
  assert.equal(summary.expectedOrderConfirmations, expectedOrderConfirmations(csvText));
  console.log(
    `ok 200: ${engine.batches.length} batches, ${received.length} calls ` +
      `(${summary.identifies} identify, ${summary.orders} Order Completed, ` +
      `${summary.cancellations} Order Cancelled, ${summary.anonymousEvents} anonymous), ` +
      `all with write key ${WRITE_KEY}; ${confirmations.length} identified completed orders, ` +
      `${summary.expectedOrderConfirmations} expected confirmations, ` +
      `${(summary.elapsedMs / 1000).toFixed(1)} s`,
  );

  for (const status of [401, 400]) {
    const refusing = await startFakeEngine(status);
    const message = await expectReplayError(
      replay({ ...options, engineUrl: refusing.url }).finally(refusing.close),
      new RegExp(`answered ${status}`),
    );
    assert.equal(refusing.batches.length, 1, "the replay stops after the first refused batch");
    console.log(`ok ${status}: stops after 1 batch — ${message}`);
  }

  const gone = await startFakeEngine(200);
  await gone.close();
  const message = await expectReplayError(
    replay({ ...options, engineUrl: gone.url }),
    /not reachable/,
  );
  console.log(`ok unreachable: ${message}`);
}

await main();
