// scripts/backup.sh: a dump restored into a fresh database gives the same counts (work items,
// memories, queue messages, migrations), retention keeps the newest N dumps, and bad settings
// fail with the documented exit codes. The round trip needs pg_dump against a server of the
// same major version, so it runs in the server pass (ANIMUS_TEST_DATABASE_URL); the embedded
// pass skips it, counted as skipped and saying why (PGlite is Postgres 18, newer than the
// machine's pg_dump).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', '..', 'scripts', 'backup.sh');

async function backup(
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('bash', [script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const COUNTS = `
SELECT (SELECT count(*) FROM work_items)::int AS work_items,
       (SELECT count(*) FROM memories)::int AS memories,
       (SELECT count(*) FROM pgmq.q_backup_test)::int AS messages,
       (SELECT count(*) FROM animus_migrations)::int AS migrations,
       (SELECT md5(string_agg(content || embedding::text, ',' ORDER BY content)) FROM memories) AS memory_digest`;

let dir: string;
let db: TestDatabase | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'animus-backup-'));
  // Only the server pass needs a database (see the header).
  if (serverUrl !== undefined) db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('scripts/backup.sh', () => {
  it('refuses without DATABASE_URL (exit 78) and with a bad keep count (exit 64)', async () => {
    const none = await backup({});
    expect(none.code).toBe(78);
    expect(none.stderr).toContain('DATABASE_URL is not set');
    const bad = await backup({ DATABASE_URL: 'postgres://x@127.0.0.1:1/x', ANIMUS_BACKUP_KEEP: 'seven' });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('ANIMUS_BACKUP_KEEP');
  });

  it('reports pg_dump failing (exit 69) and leaves no partial dump', async () => {
    const backups = join(dir, 'unreachable');
    const r = await backup({ DATABASE_URL: 'postgres://x@127.0.0.1:1/x', ANIMUS_BACKUP_DIR: backups });
    expect(r.code).toBe(69);
    expect(await readdir(backups)).toEqual([]);
  });

  it('backup then restore into a fresh database gives the same counts; keeps the newest N', async (ctx) => {
    if (serverUrl === undefined || db === undefined) {
      const why =
        "not run on the embedded database: pg_dump here is older than PGlite's Postgres 18; " +
        'it runs in the server pass (ANIMUS_TEST_DATABASE_URL)';
      console.warn(`\n[animus tests] backup round trip SKIPPED, ${why}.\n`);
      // Counted as skipped, with the reason, not as a pass.
      return ctx.skip(why);
    }
    const pool = db.pool;
    await pool.query("SELECT pgmq.create('backup_test')");
    await pool.query("SELECT pgmq.send('backup_test', '{\"n\":1}'::jsonb) FROM generate_series(1, 5)");
    await pool.query(
      `INSERT INTO work_items (queue_name, work_type, source, params, state)
       SELECT 'backup_test', 'memory.ingest', 'test', jsonb_build_object('n', g), 'queued' FROM generate_series(1, 7) g`,
    );
    await pool.query(
      `INSERT INTO memories (content, memory_type, content_hash, embedding)
       SELECT 'memory number ' || g, 'semantic', sha256(('m' || g)::bytea),
              (SELECT array_agg(((g * 7 + i) % 13)::real / 13) FROM generate_series(1, 512) i)::vector
         FROM generate_series(1, 11) g`,
    );
    const before = (await pool.query(COUNTS)).rows[0] as Record<string, unknown>;
    expect(before).toMatchObject({ work_items: 7, memories: 11, messages: 5 });

    const backups = join(dir, 'dumps');
    for (let i = 0; i < 3; i++) {
      const r = await backup({ DATABASE_URL: db.url, ANIMUS_BACKUP_DIR: backups, ANIMUS_BACKUP_KEEP: '2' });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const dumps = (await readdir(backups)).sort();
    expect(dumps).toHaveLength(2);
    expect(dumps.every((d) => /^animus-\d{8}T\d{6}\.\d{3}Z\.dump$/.test(d))).toBe(true);

    const fresh = `animus_restore_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${fresh}`);
    const url = new URL(serverUrl);
    url.pathname = `/${fresh}`;
    try {
      await run('pg_restore', [
        '--no-owner',
        '--exit-on-error',
        `--dbname=${url.toString()}`,
        join(backups, dumps[1]!),
      ]);
      const restored = new pg.Client({ connectionString: url.toString() });
      await restored.connect();
      try {
        const after = (await restored.query(COUNTS)).rows[0] as Record<string, unknown>;
        expect(after).toEqual(before);
      } finally {
        await restored.end();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${fresh} WITH (FORCE)`);
      await admin.end();
    }
  });
});
