// The embedded default: PGlite (Postgres in WASM) with pgvector, kept in a directory and
// served on a loopback port by pglite-socket, so every other module talks to it with `pg`
// exactly as to a server. PGlite is single-session: one process owns a data directory
// (guarded by a lock file), and animus's pool uses a single connection to it.
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { AnimusError } from '../errors/index.js';

/** A running embedded database. */
export interface EmbeddedPostgres {
  /** `postgres://` URL of the loopback socket server. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the socket server, flushes and closes the database, releases the lock. */
  stop(): Promise<void>;
}

/** Options for {@link startEmbedded}. */
export interface EmbeddedOptions {
  /** Directory for the database files (`pgdata`) and the lock file; `undefined` = in memory. */
  dataDir: string | undefined;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Connections the socket server accepts at once. Default 1: PGlite runs one session, and the
   * multiplexer cannot keep two clients' extended-protocol messages apart, so only one client
   * should talk at a time. Raise it only for tools used one after another (psql, pgmq-js).
   */
  maxConnections?: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid recorded in a lock file; `undefined` if the file is gone or unreadable. */
function lockHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function lockedError(dir: string, holder: number): AnimusError {
  if (holder === process.pid) {
    return new AnimusError(
      'DATABASE_LOCKED',
      `the embedded database in ${dir} is already open in this process; share one Animus instance`,
    );
  }
  return new AnimusError(
    'DATABASE_LOCKED',
    `the embedded database in ${dir} is in use by process ${holder}; stop that process, or point this one ` +
      `at another ANIMUS_DATA_DIR or at a Postgres server (DATABASE_URL). If no animus runs with pid ${holder}, ` +
      `delete ${join(dir, LOCK_FILE)}`,
  );
}

const LOCK_FILE = 'animus.lock';

/**
 * Takes `<dir>/animus.lock` (created exclusively, holding our pid) or throws naming the
 * process that holds it. A lock whose process is gone is taken over: it is first renamed
 * aside, which only one contender can do, and checked again so a fresh lock is never stolen.
 */
function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      return () => {
        // Remove it only while it is still ours.
        if (lockHolder(path) === process.pid) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = lockHolder(path);
    if (holder === undefined) continue; // released meanwhile: try again
    if (holder === process.pid || (holder !== 0 && processAlive(holder))) throw lockedError(dir, holder);
    // Stale (its process died, or the file is empty from a crash while writing it).
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process took it over
      throw err;
    }
    const moved = lockHolder(aside);
    if (moved !== undefined && moved !== holder && moved !== 0 && processAlive(moved)) {
      // A faster process replaced the stale lock between our read and our rename: give it back.
      try {
        linkSync(aside, path);
      } finally {
        rmSync(aside, { force: true });
      }
      throw lockedError(dir, moved);
    }
    rmSync(aside, { force: true });
  }
  throw new AnimusError('DATABASE_LOCKED', `could not take the lock on ${dir} (${path} keeps changing)`);
}

/** Starts PGlite with pgvector on `dataDir` and serves it on 127.0.0.1. */
export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  let release: () => void = () => {};
  let pgdata: string | undefined;
  if (options.dataDir !== undefined) {
    try {
      mkdirSync(options.dataDir, { recursive: true });
    } catch (err) {
      throw new AnimusError(
        'DATABASE_UNAVAILABLE',
        `cannot create the embedded database directory ${options.dataDir} ` +
          `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set ANIMUS_DATA_DIR to a writable directory`,
        { cause: err },
      );
    }
    release = acquireLock(options.dataDir);
    pgdata = join(options.dataDir, 'pgdata');
  }
  let db: PGlite | undefined;
  try {
    try {
      db = await PGlite.create({ dataDir: pgdata, extensions: { vector } });
    } catch (err) {
      throw new AnimusError(
        'DATABASE_UNAVAILABLE',
        `cannot open the embedded database in ${pgdata ?? 'memory'}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const server = new PGLiteSocketServer({
      db,
      host: '127.0.0.1',
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? 1,
    });
    await server.start();
    const address = server.getServerConn();
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    const opened = db;
    let stopped = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
      host: '127.0.0.1',
      port,
      dataDir: options.dataDir ?? ':memory:',
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await server.stop();
          // The socket server detaches its connections without waiting for them; give their
          // clean-up a turn before the database closes under it.
          await new Promise<void>((resolve) => setImmediate(resolve));
        } finally {
          try {
            // Closing shuts Postgres down cleanly, so everything written is on disk.
            await opened.close();
          } finally {
            release();
          }
        }
      },
    };
  } catch (err) {
    await db?.close().catch(() => {});
    release();
    throw err;
  }
}
