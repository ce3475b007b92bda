// The Postgres server the queue benchmarks use for their scratch databases.
import pg from 'pg';

/** `ANIMUS_BENCH_SERVER`, default the local test server (no trailing slash). */
export const SERVER = (process.env.ANIMUS_BENCH_SERVER || 'postgres://postgres@127.0.0.1:5432').replace(
  /\/+$/,
  '',
);

/** The URL of database `db` on {@link SERVER}. */
export const url = (db: string): string => `${SERVER}/${db}`;

/** Runs `fn` on a connection to the server's `postgres` database (creating, dropping databases). */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url('postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
