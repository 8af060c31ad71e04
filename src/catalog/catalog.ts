import type { Condition } from "../engine/condition";
import type { Scenario } from "../engine/scenario";
import type { DefinitionStatus } from "../db/schema";

/** The published, active definitions a contact object decides with. */
export interface Catalog {
  scenarios: Array<{ scenario: Scenario; version: number }>;
  segments: Record<string, Condition>;
  /** Status of every scenario, so runs of paused or stopped scenarios are held or ended. */
  statuses: Record<string, DefinitionStatus>;
  loadedAtMs: number;
}

/**
 * How long an isolate trusts its catalog. A publish in the same isolate invalidates at once;
 * elsewhere it is seen within this time.
 */
export const CATALOG_TTL_MS = 5_000;

let cached: Catalog | null = null;
let loading: Promise<Catalog> | null = null;
const versionCache = new Map<string, Scenario>();

/** Forgets the cached catalog; called by every publish, pause and archive. */
export function invalidateCatalog(): void {
  cached = null;
  loading = null;
}

async function loadCatalog(db: D1Database, nowMs: number): Promise<Catalog> {
  const [scenarioRows, segmentRows, statusRows] = await db.batch([
    db.prepare(
      `SELECT v.id AS id, v.version AS version, v.document AS document
       FROM scenarios s JOIN scenario_versions v
         ON v.id = s.id AND v.version = s.current_version
       WHERE s.status = 'active'`,
    ),
    db.prepare(
      `SELECT v.id AS id, v.document AS document
       FROM segments s JOIN segment_versions v
         ON v.id = s.id AND v.version = s.current_version
       WHERE s.status <> 'archived'`,
    ),
    db.prepare("SELECT id, status FROM scenarios"),
  ]);

  const scenarios = (scenarioRows?.results ?? []).map((row) => {
    const record = row as { id: string; version: number; document: string };
    // Stored documents were validated when saved; the version is immutable.
    const scenario = JSON.parse(record.document) as Scenario;
    versionCache.set(`${record.id}@${record.version}`, scenario);
    return { scenario, version: record.version };
  });
  const segments: Record<string, Condition> = {};
  for (const row of segmentRows?.results ?? []) {
    const record = row as { id: string; document: string };
    segments[record.id] = (JSON.parse(record.document) as { condition: Condition }).condition;
  }
  const statuses: Record<string, DefinitionStatus> = {};
  for (const row of statusRows?.results ?? []) {
    const record = row as { id: string; status: DefinitionStatus };
    statuses[record.id] = record.status;
  }
  return { scenarios, segments, statuses, loadedAtMs: nowMs };
}

/** The active catalog, from the isolate's cache when fresh. */
export async function getCatalog(db: D1Database): Promise<Catalog> {
  // The cache's age is measured on the isolate's monotonic clock, not on business time.
  const nowMs = performance.now();
  const ageMs = cached ? nowMs - cached.loadedAtMs : Number.POSITIVE_INFINITY;
  if (cached && ageMs >= 0 && ageMs < CATALOG_TTL_MS) return cached;
  if (!loading) {
    loading = loadCatalog(db, nowMs).then(
      (catalog) => {
        cached = catalog;
        loading = null;
        return catalog;
      },
      (error: unknown) => {
        loading = null;
        throw error;
      },
    );
  }
  return loading;
}

/** One published scenario version, immutable, so cached for the isolate's life. */
export async function getScenarioVersion(
  db: D1Database,
  input: { scenarioId: string; version: number },
): Promise<Scenario | null> {
  const key = `${input.scenarioId}@${input.version}`;
  const known = versionCache.get(key);
  if (known) return known;
  const row = await db
    .prepare("SELECT document FROM scenario_versions WHERE id = ? AND version = ?")
    .bind(input.scenarioId, input.version)
    .first<{ document: string }>();
  if (!row) return null;
  const scenario = JSON.parse(row.document) as Scenario;
  versionCache.set(key, scenario);
  return scenario;
}
