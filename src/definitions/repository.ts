import { and, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import {
  scenarios,
  scenarioVersions,
  segments,
  segmentVersions,
  templates,
  templateVersions,
  type DefinitionStatus,
} from "../db/schema";

/** The three kinds of versioned definition the admin API manages the same way. */
export type DefinitionKind = "scenario" | "template" | "segment";

const TABLES = {
  scenario: { head: scenarios, versions: scenarioVersions },
  template: { head: templates, versions: templateVersions },
  segment: { head: segments, versions: segmentVersions },
} as const;

export interface DefinitionSummary {
  id: string;
  name: string;
  status: DefinitionStatus;
  currentVersion: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface DefinitionDetail extends DefinitionSummary {
  draft: unknown;
  versions: Array<{ version: number; publishedAt: number }>;
}

export interface DefinitionVersion {
  id: string;
  version: number;
  document: unknown;
  compiled: unknown;
  publishedAt: number;
}

/** D1 access for scenarios, templates and segments: drafts, immutable versions, status. */
export class DefinitionRepository {
  private readonly db;

  constructor(
    d1: D1Database,
    private readonly kind: DefinitionKind,
  ) {
    this.db = drizzle(d1);
  }

  private get tables() {
    return TABLES[this.kind];
  }

  async list(): Promise<DefinitionSummary[]> {
    const { head } = this.tables;
    return this.db
      .select({
        id: head.id,
        name: head.name,
        status: head.status,
        currentVersion: head.currentVersion,
        createdAt: head.createdAt,
        updatedAt: head.updatedAt,
      })
      .from(head)
      .orderBy(head.id)
      .all();
  }

  async get(id: string): Promise<DefinitionDetail | null> {
    const { head, versions } = this.tables;
    const row = await this.db.select().from(head).where(eq(head.id, id)).get();
    if (!row) return null;
    const published = await this.db
      .select({ version: versions.version, publishedAt: versions.publishedAt })
      .from(versions)
      .where(eq(versions.id, id))
      .orderBy(versions.version)
      .all();
    return { ...row, versions: published };
  }

  /** Creates the definition or replaces its draft; answers whether it was new. */
  async saveDraft(input: {
    id: string;
    name: string;
    draft: unknown;
    nowMs: number;
  }): Promise<{ created: boolean }> {
    const { head } = this.tables;
    const existing = await this.db
      .select({ id: head.id })
      .from(head)
      .where(eq(head.id, input.id))
      .get();
    await this.db
      .insert(head)
      .values({
        id: input.id,
        name: input.name,
        status: "draft",
        draft: input.draft,
        currentVersion: null,
        createdAt: input.nowMs,
        updatedAt: input.nowMs,
      })
      .onConflictDoUpdate({
        target: head.id,
        set: { name: input.name, draft: input.draft, updatedAt: input.nowMs },
      });
    return { created: !existing };
  }

  /** Freezes the draft as the next version and makes it current. */
  async publish(input: {
    id: string;
    document: unknown;
    compiled: unknown;
    nowMs: number;
  }): Promise<number> {
    const { head, versions } = this.tables;
    const latest = await this.db
      .select({ version: versions.version })
      .from(versions)
      .where(eq(versions.id, input.id))
      .orderBy(desc(versions.version))
      .get();
    const version = (latest?.version ?? 0) + 1;
    await this.db.batch([
      this.db.insert(versions).values({
        id: input.id,
        version,
        document: input.document,
        compiled: input.compiled,
        publishedAt: input.nowMs,
      }),
      this.db
        .update(head)
        .set({ currentVersion: version, status: "active", updatedAt: input.nowMs })
        .where(eq(head.id, input.id)),
    ]);
    return version;
  }

  async setStatus(input: { id: string; status: DefinitionStatus; nowMs: number }): Promise<void> {
    const { head } = this.tables;
    await this.db
      .update(head)
      .set({ status: input.status, updatedAt: input.nowMs })
      .where(eq(head.id, input.id));
  }

  async version(id: string, version: number): Promise<DefinitionVersion | null> {
    const { versions } = this.tables;
    const row = await this.db
      .select()
      .from(versions)
      .where(and(eq(versions.id, id), eq(versions.version, version)))
      .get();
    return row ?? null;
  }

  /** The version currently in force, whatever the definition's status. */
  async current(id: string): Promise<DefinitionVersion | null> {
    const { head } = this.tables;
    const row = await this.db
      .select({ v: head.currentVersion })
      .from(head)
      .where(eq(head.id, id))
      .get();
    if (!row?.v) return null;
    return this.version(id, row.v);
  }
}
