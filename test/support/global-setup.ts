// Says loudly which database the run uses, so an embedded-only run is never taken for a
// server run. Fails fast if a server was named but cannot be reached.
import pg from 'pg';

export default async function setup(): Promise<void> {
  const url = process.env.ANIMUS_TEST_DATABASE_URL;
  if (url === undefined || url === '') {
    console.log('\n[animus tests] database: embedded PGlite (set ANIMUS_TEST_DATABASE_URL for a server)\n');
    return;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    console.log(`\n[animus tests] database: Postgres server ${rows[0]?.v} at ${new URL(url).host}\n`);
  } finally {
    await client.end().catch(() => {});
  }
}
