// Forward-only schema migrations: numbered `migrations/NNNN_name.sql` files, each applied
// once in its own transaction under an advisory lock and recorded with a checksum. An edited
// applied migration, or an applied one this build does not know, stops start-up.
//
// Header directives (comment lines at the top of a file):
//   -- animus:requires-extension <name>  fail with the remedy when the server lacks it
//   -- animus:pgmq                       use `CREATE EXTENSION pgmq` when the server offers
//                                        it; otherwise run the file (animus's compatible schema)
//   -- animus:no-transaction             run outside a transaction (CREATE INDEX CONCURRENTLY)
// Placeholders: `{{embedding_dimensions}}` is replaced with the configured dimension.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { AnimusError, SchemaMismatchError } from '../errors/index.js';

/** Advisory-lock key shared by every animus migrator ('animus' as bytes). */
export const MIGRATION_LOCK_KEY = 0x616e696d;

/** How to provide pgmq: `auto` prefers the real extension, `compat` forces animus's schema. */
export type PgmqMode = 'auto' | 'extension' | 'compat';

/** One migration file. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
  readonly directives: ReadonlySet<string>;
  readonly requiresExtensions: readonly string[];
}

/** Where the migration files ship: `<package root>/migrations`. */
export function defaultMigrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/db or dist/db → package root
  return resolve(here, '..', '..', 'migrations');
}

/** Reads and orders the migration files of a directory. */
export function loadMigrations(dir = defaultMigrationsDir()): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const out: Migration[] = [];
  for (const file of files) {
    const sql = readFileSync(join(dir, file), 'utf8');
    const version = Number.parseInt(file.slice(0, 4), 10);
    if (out.some((m) => m.version === version)) {
      throw new AnimusError('MIGRATION_FAILED', `two migrations share version ${version} (${file})`);
    }
    const directives = new Set<string>();
    const requiresExtensions: string[] = [];
    for (const line of sql.split('\n')) {
      const m = /^--\s*animus:([a-z-]+)(?:\s+(\S+))?/.exec(line.trim());
      if (m === null) continue;
      directives.add(m[1]!);
      if (m[1] === 'requires-extension' && m[2] !== undefined) requiresExtensions.push(m[2]);
    }
    out.push({
      version,
      name: file.slice(5, -4),
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      directives,
      requiresExtensions,
    });
  }
  return out;
}

/** Options for {@link migrate}. */
export interface MigrateOptions {
  embeddingDimensions: number;
  dir?: string;
  pgmq?: PgmqMode;
  /** Called with a line for each migration applied. */
  log?: (line: string) => void;
}

/** One row of `animus migrate --status`. */
export interface MigrationStatus {
  version: number;
  name: string;
  state: 'applied' | 'pending' | 'edited' | 'unknown';
  appliedAt: Date | undefined;
}

const BOOKKEEPING = `
CREATE TABLE IF NOT EXISTS animus_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS animus_settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

async function readApplied(client: pg.ClientBase): Promise<AppliedRow[]> {
  const { rows } = await client.query<AppliedRow>(
    'SELECT version, name, checksum, applied_at FROM animus_migrations ORDER BY version',
  );
  return rows;
}

/** Throws when an applied migration was edited or is unknown to this build. */
function checkApplied(applied: AppliedRow[], known: Migration[]): void {
  for (const row of applied) {
    const m = known.find((k) => k.version === row.version);
    if (m === undefined) {
      throw new SchemaMismatchError(
        `the database has migration ${row.version} (${row.name}) that this build of animus does not know: ` +
          'it was migrated by a newer animus; upgrade animus, or restore a backup taken before that upgrade',
      );
    }
    if (m.checksum !== row.checksum) {
      throw new SchemaMismatchError(
        `migration ${row.version} (${row.name}) was edited after it was applied (checksum ${row.checksum.slice(0, 12)} in the database, ` +
          `${m.checksum.slice(0, 12)} on disk): migrations are forward-only; restore the file and add a new migration instead`,
      );
    }
  }
}

async function availableExtension(client: pg.ClientBase, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_available_extensions WHERE name = $1', [name]);
  return (rowCount ?? 0) > 0;
}

const EXTENSION_REMEDY: Record<string, string> = {
  vector:
    'install pgvector on the server (Debian: `sudo bash scripts/setup-postgres.sh`, or the postgresql-<major>-pgvector package), ' +
    'or unset DATABASE_URL to use the embedded database, which has it',
};

/**
 * Applies pending migrations. Safe to call from many processes at once: they queue on an
 * advisory lock and all but the first find nothing to do. Returns the versions applied.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions): Promise<number[]> {
  const migrations = loadMigrations(options.dir);
  const client = await pool.connect();
  const appliedNow: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(BOOKKEEPING);
      const applied = await readApplied(client);
      checkApplied(applied, migrations);
      const done = new Set(applied.map((r) => r.version));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        for (const ext of m.requiresExtensions) {
          if (!(await availableExtension(client, ext))) {
            throw new AnimusError(
              'EXTENSION_MISSING',
              `the Postgres server lacks the '${ext}' extension needed by migration ${m.version} (${m.name}): ${EXTENSION_REMEDY[ext] ?? `install ${ext} on the server`}`,
            );
          }
        }
        let sql = m.sql.replaceAll('{{embedding_dimensions}}', String(options.embeddingDimensions));
        if (m.directives.has('pgmq')) {
          const mode = options.pgmq ?? 'auto';
          const hasExtension = await availableExtension(client, 'pgmq');
          if (mode === 'extension' && !hasExtension) {
            throw new AnimusError(
              'EXTENSION_MISSING',
              'ANIMUS_PGMQ=extension, but the server does not offer the pgmq extension',
            );
          }
          if (mode !== 'compat' && hasExtension) sql = 'CREATE EXTENSION IF NOT EXISTS pgmq';
        }
        const inTx = !m.directives.has('no-transaction');
        try {
          if (inTx) await client.query('BEGIN');
          await client.query(sql);
          await client.query('INSERT INTO animus_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          if (inTx) await client.query('COMMIT');
        } catch (err) {
          if (inTx) await client.query('ROLLBACK').catch(() => {});
          throw new AnimusError(
            'MIGRATION_FAILED',
            `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
        appliedNow.push(m.version);
        options.log?.(`applied migration ${String(m.version).padStart(4, '0')}_${m.name}`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    client.release();
  }
  return appliedNow;
}

/** Every known migration with its state in this database. */
export async function migrationStatus(pool: pg.Pool, dir?: string): Promise<MigrationStatus[]> {
  const migrations = loadMigrations(dir);
  const { rows: exists } = await pool.query<{ t: string | null }>(
    "SELECT to_regclass('animus_migrations')::text AS t",
  );
  const applied = exists[0]?.t ? await readApplied(pool as unknown as pg.ClientBase) : [];
  const out: MigrationStatus[] = migrations.map((m) => {
    const row = applied.find((r) => r.version === m.version);
    return {
      version: m.version,
      name: m.name,
      state: row === undefined ? 'pending' : row.checksum === m.checksum ? 'applied' : 'edited',
      appliedAt: row?.applied_at,
    };
  });
  for (const row of applied) {
    if (!migrations.some((m) => m.version === row.version)) {
      out.push({
        version: row.version,
        name: row.name,
        state: 'unknown',
        appliedAt: row.applied_at,
      });
    }
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Start-up check: the schema is fully migrated by this build, and the stored embedding
 * dimension equals the configured one.
 */
export async function checkSchema(pool: pg.Pool, embeddingDimensions: number, dir?: string): Promise<void> {
  const status = await migrationStatus(pool, dir);
  const bad = status.find((s) => s.state === 'edited' || s.state === 'unknown');
  if (bad !== undefined) {
    // Reuse the precise messages of checkApplied.
    const { rows } = await pool.query<AppliedRow>(
      'SELECT version, name, checksum, applied_at FROM animus_migrations',
    );
    checkApplied(rows, loadMigrations(dir));
  }
  const pending = status.filter((s) => s.state === 'pending');
  if (pending.length > 0) {
    throw new SchemaMismatchError(
      `the database is missing ${pending.length} migration(s) (first: ${pending[0]!.version} ${pending[0]!.name}); run \`animus migrate\``,
    );
  }
  await checkEmbeddingDimensions(pool, embeddingDimensions);
}

/** Fails with both numbers and the way out when the stored dimension differs from config. */
export async function checkEmbeddingDimensions(pool: pg.Pool, configured: number): Promise<void> {
  const { rows } = await pool.query<{ value: string }>(
    "SELECT value FROM animus_settings WHERE key = 'embedding_dimensions'",
  );
  const stored = rows[0] === undefined ? undefined : Number(rows[0].value);
  if (stored !== undefined && stored !== configured) {
    throw new SchemaMismatchError(
      `embedding dimension mismatch: the database stores ${stored}-dimension embeddings but EMBEDDING_DIMENSIONS is ${configured}; ` +
        `set EMBEDDING_DIMENSIONS=${stored} (and the model that produced them), or run \`animus memory reembed\` to re-embed every memory with the configured model`,
    );
  }
}
