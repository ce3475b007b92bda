// Says which pgmq a database has: the real extension (with its version), animus's compatible
// schema (with the pgmq API version it follows, from migration 0002), or none. Health, `animus
// doctor` and start-up use it; it only reads catalogs and never changes anything.
import type pg from 'pg';

/** Which pgmq is installed in a database. */
export type PgmqFlavour = 'extension' | 'compat' | 'missing';

/** What {@link pgmqInfo} found. */
export interface PgmqInfo {
  /** `extension`: `CREATE EXTENSION pgmq`; `compat`: animus's schema; `missing`: neither. */
  readonly flavour: PgmqFlavour;
  /**
   * `extension`: the installed extension version (e.g. `1.11.0`); `compat`: the pgmq API
   * version the schema follows; `missing`: the empty string.
   */
  readonly version: string;
  /**
   * True when the server offers the real pgmq extension but this database does not use it
   * (compatible schema or nothing installed): the database could switch, see README.md ("pgmq in animus").
   */
  readonly extensionAvailable: boolean;
  /** One line for health output and `animus doctor`, e.g. `pgmq extension 1.11.0`. */
  readonly description: string;
}

/** Catalog probe: installed extension version, animus marker function, offered extension. */
export const PGMQ_INFO_SQL = `
SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgmq') AS extension_version,
       to_regprocedure('pgmq.animus_compat_version()') IS NOT NULL AS has_compat,
       EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pgmq') AS offered`;

/** The pgmq API version animus's compatible schema follows (only run when it exists). */
export const PGMQ_COMPAT_VERSION_SQL = 'SELECT pgmq.animus_compat_version() AS version';

interface ProbeRow {
  extension_version: string | null;
  has_compat: boolean;
  offered: boolean;
}

/** Reports which pgmq the database behind `pool` has. Two catalog queries at most. */
export async function pgmqInfo(pool: pg.Pool | pg.ClientBase): Promise<PgmqInfo> {
  const { rows } = await pool.query<ProbeRow>(PGMQ_INFO_SQL);
  const row = rows[0];
  if (row === undefined) throw new Error('pgmq catalog probe returned no row');
  if (row.extension_version !== null) {
    return {
      flavour: 'extension',
      version: row.extension_version,
      extensionAvailable: false,
      description: `pgmq extension ${row.extension_version}`,
    };
  }
  if (row.has_compat) {
    const compat = await pool.query<{ version: string }>(PGMQ_COMPAT_VERSION_SQL);
    const version = compat.rows[0]?.version ?? '';
    return {
      flavour: 'compat',
      version,
      extensionAvailable: row.offered,
      description: `animus compatible schema (pgmq API ${version})`,
    };
  }
  return {
    flavour: 'missing',
    version: '',
    extensionAvailable: row.offered,
    description: 'pgmq not installed (run `animus migrate`)',
  };
}

/**
 * The line start-up should log about pgmq, or undefined when there is nothing to say: today,
 * only that the server now offers the real extension while the compatible schema is in use.
 */
export function pgmqStartupNotice(info: PgmqInfo): string | undefined {
  if (info.flavour === 'compat' && info.extensionAvailable) {
    return (
      `pgmq: this database uses animus's compatible schema (pgmq API ${info.version}), ` +
      'but the server now offers the pgmq extension; see README.md ("Switching a database to the extension") to move to it'
    );
  }
  return undefined;
}
