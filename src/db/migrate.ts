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
import { AnimusError, SchemaMismatchError, sqlState } from '../errors/index.js';

/** Advisory-lock key shared by every animus migrator ('animus' as bytes). */
export const MIGRATION_LOCK_KEY = 0x616e696d;

/** How to provide pgmq: `auto` prefers the real extension, `compat` forces animus's schema. */
export type PgmqMode = 'auto' | 'extension' | 'compat';

/** One migration file. */
export interface Migration {
  /** The number the file name starts with, e.g. 3 for `0003_work_items.sql`. */
  readonly version: number;
  /** The rest of the file name, e.g. `work_items`. */
  readonly name: string;
  /** The file's text, placeholders unfilled. */
  readonly sql: string;
  /** SHA-256 (hex) of {@link sql}, recorded when applied. */
  readonly checksum: string;
  /** Header directives present, e.g. `no-transaction`. */
  readonly directives: ReadonlySet<string>;
  /** Extensions named by `-- animus:requires-extension`. */
  readonly requiresExtensions: readonly string[];
}

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;
// SQLSTATE 42501; belongs in SqlState (src/errors), which this module does not own.
const INSUFFICIENT_PRIVILEGE = '42501';
const DIMENSIONS_PLACEHOLDER = '{{embedding_dimensions}}';

/** Where the migration files ship: `<package root>/migrations`. */
export function defaultMigrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/db or dist/db → package root
  return resolve(here, '..', '..', 'migrations');
}

/** Reads and orders the migration files of a directory. */
export function loadMigrations(dir = defaultMigrationsDir()): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  for (const f of files) {
    // A misnamed file would otherwise be skipped in silence and never applied.
    if (!MIGRATION_FILE.test(f)) {
      throw new AnimusError(
        'MIGRATION_FAILED',
        `migration file ${join(dir, f)} is misnamed: expected NNNN_lower_snake_name.sql, e.g. 0005_add_index.sql`,
      );
    }
  }
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
  /** The configured embedding dimension: filled into `{{embedding_dimensions}}` and checked against the stored one. */
  embeddingDimensions: number;
  /** Directory of the migration files. Default: the shipped `migrations/`. */
  dir?: string;
  /** How a `-- animus:pgmq` migration provides pgmq. Default `auto`. */
  pgmq?: PgmqMode;
  /** Called with a line for each migration applied, and when waiting for another migrator. */
  log?: (line: string) => void;
  /**
   * Skip the stored-versus-configured dimension check (for `animus memory reembed`, which moves
   * the database to the configured dimension). Default false.
   */
  allowDimensionChange?: boolean;
}

/** One row of `animus migrate --status`. */
export interface MigrationStatus {
  version: number;
  name: string;
  /** `edited`: applied, file changed since; `unknown`: applied, no such file in this build. */
  state: 'applied' | 'pending' | 'edited' | 'unknown';
  /** When it was applied; `undefined` while pending. */
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

const TRY_LOCK = 'SELECT pg_try_advisory_lock($1) AS ok';
const LOCK = 'SELECT pg_advisory_lock($1)';
const UNLOCK = 'SELECT pg_advisory_unlock($1)';
const SELECT_APPLIED = 'SELECT version, name, checksum, applied_at FROM animus_migrations ORDER BY version';
const SELECT_DIMENSIONS = "SELECT value FROM animus_settings WHERE key = 'embedding_dimensions'";
const RECORD_DIMENSIONS = `
INSERT INTO animus_settings (key, value) VALUES ('embedding_dimensions', $1)
ON CONFLICT (key) DO NOTHING`;
const RECORD_MIGRATION = 'INSERT INTO animus_migrations (version, name, checksum) VALUES ($1, $2, $3)';
const SELECT_AVAILABLE_EXTENSION = 'SELECT 1 FROM pg_available_extensions WHERE name = $1';

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

/** A pool or a client: both can run a query. */
type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

async function readApplied(db: Queryable): Promise<AppliedRow[]> {
  const { rows } = await (db as pg.Pool).query<AppliedRow>(SELECT_APPLIED);
  return rows;
}

async function storedDimensions(db: Queryable): Promise<number | undefined> {
  const { rows } = await (db as pg.Pool).query<{ value: string }>(SELECT_DIMENSIONS);
  return rows[0] === undefined ? undefined : Number(rows[0].value);
}

function dimensionMismatch(stored: number, configured: number): SchemaMismatchError {
  return new SchemaMismatchError(
    `embedding dimension mismatch: the database stores ${stored}-dimension embeddings but EMBEDDING_DIMENSIONS is ${configured}; ` +
      `set EMBEDDING_DIMENSIONS=${stored} (with the provider and model that produced them), or keep the new setting and run ` +
      '`animus memory reembed` to re-embed every memory with the configured model (it moves the database to the new dimension)',
  );
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
  const { rowCount } = await client.query(SELECT_AVAILABLE_EXTENSION, [name]);
  return (rowCount ?? 0) > 0;
}

const EXTENSION_REMEDY: Record<string, string> = {
  vector:
    'install pgvector on the server (Debian: `sudo bash scripts/setup-postgres.sh`, or the postgresql-<major>-pgvector package), ' +
    'or unset DATABASE_URL to use the embedded database, which has it',
};

/**
 * Splits a script into statements at top-level semicolons, leaving quoted strings, quoted
 * identifiers, dollar-quoted bodies and comments whole. Only `no-transaction` migrations need
 * it: a multi-statement query string runs as one implicit transaction in Postgres.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      // A doubled quote is an escaped quote, so scanning on past it is right.
      while (j < sql.length && sql[j] !== c) j++;
      i = j + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i));
      if (tag === null) {
        i++;
      } else {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
      }
    } else if (c === ';') {
      out.push(sql.slice(start, i));
      start = ++i;
    } else {
      i++;
    }
  }
  out.push(sql.slice(start));
  // Drop pieces that hold nothing but blanks and comments.
  return out
    .map((st) => st.trim())
    .filter((st) => st.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim() !== '');
}

/** A migration's failure, with the remedy where animus knows one (classified by SQLSTATE). */
function migrationError(m: Migration, err: unknown): AnimusError {
  const state = sqlState(err);
  const hint =
    state === INSUFFICIENT_PRIVILEGE && m.requiresExtensions.length > 0
      ? `; the database role may not create the ${m.requiresExtensions.join(', ')} extension: ` +
        `have a superuser run ${m.requiresExtensions.map((e) => `CREATE EXTENSION IF NOT EXISTS ${e};`).join(' ')} in this database, then start again`
      : '';
  return new AnimusError(
    'MIGRATION_FAILED',
    `migration ${m.version} (${m.name}) failed${state === undefined ? '' : ` [SQLSTATE ${state}]`}: ${(err as Error).message}${hint}`,
    { cause: err },
  );
}

/** The SQL a migration runs on this server (pgmq directive resolved, dimension filled in). */
async function migrationSql(client: pg.ClientBase, m: Migration, options: MigrateOptions): Promise<string> {
  const sql = m.sql.replaceAll(DIMENSIONS_PLACEHOLDER, String(options.embeddingDimensions));
  if (!m.directives.has('pgmq')) return sql;
  const mode = options.pgmq ?? 'auto';
  const hasExtension = await availableExtension(client, 'pgmq');
  if (mode === 'extension' && !hasExtension) {
    throw new AnimusError(
      'EXTENSION_MISSING',
      "pgmq mode 'extension' was asked for, but the server does not offer the pgmq extension: install pgmq on the server, or use mode 'auto'",
    );
  }
  return mode !== 'compat' && hasExtension ? 'CREATE EXTENSION IF NOT EXISTS pgmq' : sql;
}

/** Runs one migration and records it: in one transaction, or statement by statement. */
async function applyOne(client: pg.ClientBase, m: Migration, options: MigrateOptions): Promise<void> {
  for (const ext of m.requiresExtensions) {
    if (!(await availableExtension(client, ext))) {
      throw new AnimusError(
        'EXTENSION_MISSING',
        `the Postgres server lacks the '${ext}' extension needed by migration ${m.version} (${m.name}): ${EXTENSION_REMEDY[ext] ?? `install ${ext} on the server`}`,
      );
    }
  }
  const sql = await migrationSql(client, m, options);
  const inTx = !m.directives.has('no-transaction');
  try {
    if (inTx) {
      await client.query('BEGIN');
      await client.query(sql);
    } else {
      // Such a migration must be safe to re-run (IF NOT EXISTS): a failure part-way leaves
      // the statements before it applied and the migration unrecorded.
      for (const statement of splitStatements(sql)) await client.query(statement);
    }
    if (m.sql.includes(DIMENSIONS_PLACEHOLDER)) {
      await client.query(RECORD_DIMENSIONS, [String(options.embeddingDimensions)]);
    }
    await client.query(RECORD_MIGRATION, [m.version, m.name, m.checksum]);
    if (inTx) await client.query('COMMIT');
  } catch (err) {
    if (inTx) await client.query('ROLLBACK').catch(() => {});
    throw migrationError(m, err);
  }
}

/**
 * Applies pending migrations, in version order, each once. Safe to call from many processes
 * at once: they queue on an advisory lock and all but the first find nothing to do. Before
 * anything is applied it fails on an edited or unknown applied migration, or on a stored
 * embedding dimension other than `options.embeddingDimensions`. Returns the versions applied.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions): Promise<number[]> {
  const dims = options.embeddingDimensions;
  if (!Number.isInteger(dims) || dims < 1 || dims > 16_000) {
    throw new AnimusError(
      'MIGRATION_FAILED',
      `embeddingDimensions must be a whole number from 1 to 16000, got ${String(dims)}`,
    );
  }
  const migrations = loadMigrations(options.dir);
  const client = await pool.connect();
  const appliedNow: number[] = [];
  try {
    const { rows } = await client.query<{ ok: boolean }>(TRY_LOCK, [MIGRATION_LOCK_KEY]);
    if (rows[0]?.ok !== true) {
      options.log?.('another process is migrating this database; waiting for it to finish');
      await client.query(LOCK, [MIGRATION_LOCK_KEY]);
    }
    try {
      await client.query(BOOKKEEPING);
      const applied = await readApplied(client);
      checkApplied(applied, migrations);
      const stored = await storedDimensions(client);
      if (stored !== undefined && stored !== dims && options.allowDimensionChange !== true) {
        throw dimensionMismatch(stored, dims);
      }
      const done = new Set(applied.map((r) => r.version));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await applyOne(client, m, options);
        appliedNow.push(m.version);
        options.log?.(`applied migration ${String(m.version).padStart(4, '0')}_${m.name}`);
      }
    } finally {
      await client.query(UNLOCK, [MIGRATION_LOCK_KEY]).catch(() => {});
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
  const applied = exists[0]?.t ? await readApplied(pool) : [];
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
      out.push({ version: row.version, name: row.name, state: 'unknown', appliedAt: row.applied_at });
    }
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Start-up check: the schema is fully migrated by this build, and the stored embedding
 * dimension equals the configured one. Throws {@link SchemaMismatchError} with the way out.
 */
export async function checkSchema(
  pool: pg.Pool,
  embeddingDimensions: number,
  dir?: string,
  options: { allowDimensionChange?: boolean } = {},
): Promise<void> {
  const known = loadMigrations(dir);
  const status = await migrationStatus(pool, dir);
  if (status.some((s) => s.state === 'edited' || s.state === 'unknown')) {
    // The same precise messages as migrate() gives.
    checkApplied(await readApplied(pool), known);
  }
  const pending = status.filter((s) => s.state === 'pending');
  if (pending.length > 0) {
    throw new SchemaMismatchError(
      `the database is missing ${pending.length} migration(s) (first: ${pending[0]!.version} ${pending[0]!.name}); run \`animus migrate\``,
    );
  }
  if (options.allowDimensionChange !== true) await checkEmbeddingDimensions(pool, embeddingDimensions);
}

/** Fails with both numbers and the way out when the stored dimension differs from config. */
export async function checkEmbeddingDimensions(pool: pg.Pool, configured: number): Promise<void> {
  const stored = await storedDimensions(pool);
  if (stored !== undefined && stored !== configured) throw dimensionMismatch(stored, configured);
}
