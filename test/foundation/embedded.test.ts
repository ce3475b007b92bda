// The embedded default (PGlite + pgvector on a loopback socket) in a real data directory:
// restart keeps the data, a second process on the same directory is refused with a clear
// error while the first keeps working, a killed holder's lock is taken over with its committed
// data intact, and a dimension mismatch fails start-up without leaving the directory locked.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/db/database.js';
import { startEmbedded } from '../../src/db/embedded.js';
import { AnimusError, SchemaMismatchError } from '../../src/errors/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'animus-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const config = resolveConfig({ dataDir });

const fixture = fileURLToPath(new URL('./fixtures/open-embedded.ts', import.meta.url));

interface FixtureResult {
  exitCode: number | null;
  report: { opened: boolean; code?: string; message?: string; rows?: string[] };
}

/** Runs the fixture as a separate Node process and waits for it to exit. */
function secondProcess(dir: string): Promise<FixtureResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve({ exitCode, report: JSON.parse(line) as FixtureResult['report'] });
      } catch {
        reject(new Error(`fixture printed no report (exit ${exitCode}): ${out}\n${err}`));
      }
    });
  });
}

/** The pid of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
}

describe('embedded database in a data directory', () => {
  it('keeps its data across stop and start, and migrates only once', async () => {
    const first = await openDatabase(config, { log: () => {} });
    expect(first.kind).toBe('embedded');
    expect(first.supportsNotify).toBe(false);
    expect(first.embedded?.dataDir).toBe(dataDir);
    expect(first.target).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(true);
    await first.pool.query('CREATE TABLE kept (v text PRIMARY KEY)');
    await first.pool.query("INSERT INTO kept VALUES ('before restart')");
    await first.close();
    await first.close(); // idempotent
    expect(existsSync(join(dataDir, 'animus.lock'))).toBe(false);

    const applied: string[] = [];
    const second = await openDatabase(config, { log: (line) => applied.push(line) });
    try {
      expect(applied).toEqual([]);
      const { rows } = await second.pool.query('SELECT v FROM kept');
      expect(rows).toEqual([{ v: 'before restart' }]);
      // pgvector types are registered: a vector comes back as an array of numbers.
      const vec = await second.pool.query("SELECT '[1,2,3]'::vector AS v");
      expect(vec.rows[0].v).toEqual([1, 2, 3]);
    } finally {
      await second.close();
    }
  });

  it('refuses a second process on the same directory and keeps the first one intact', async () => {
    const first = await openDatabase(config);
    try {
      expect(readFileSync(join(dataDir, 'animus.lock'), 'utf8')).toBe(String(process.pid));
      const refused = await secondProcess(dataDir);
      expect(refused.exitCode).toBe(3);
      expect(refused.report.code).toBe('DATABASE_LOCKED');
      expect(refused.report.message).toContain(
        `the embedded database in ${dataDir} is in use by process ${process.pid}`,
      );
      expect(refused.report.message).toContain('ANIMUS_DATA_DIR');
      // The first process still reads and writes.
      await first.pool.query("INSERT INTO kept VALUES ('while locked')");
      const { rows } = await first.pool.query('SELECT v FROM kept ORDER BY v');
      expect(rows.map((r: { v: string }) => r.v)).toEqual(['before restart', 'while locked']);
    } finally {
      await first.close();
    }
    // Once the first has stopped, another process opens it and finds everything.
    const later = await secondProcess(dataDir);
    expect(later.report).toEqual({ opened: true, rows: ['before restart', 'while locked'] });
    expect(later.exitCode).toBe(0);
  });

  it('recovers from a process killed while it held the database: lock taken over, committed data kept', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fixture, dataDir, 'hold', 'committed before kill'],
      {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('"ready":true')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`fixture exited early (${code})`)));
    });
    expect(readFileSync(join(dataDir, 'animus.lock'), 'utf8')).toBe(String(child.pid));
    child.kill('SIGKILL');
    await exited;
    const reopened = await openDatabase(config);
    try {
      const { rows } = await reopened.pool.query('SELECT v FROM kept ORDER BY v');
      expect(rows.map((r: { v: string }) => r.v)).toEqual([
        'before restart',
        'committed before kill',
        'while locked',
      ]);
    } finally {
      await reopened.close();
    }
  });

  it('refuses to open the same directory twice in one process', async () => {
    const first = await startEmbedded({ dataDir });
    try {
      const err = await startEmbedded({ dataDir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AnimusError);
      expect((err as AnimusError).code).toBe('DATABASE_LOCKED');
      expect((err as Error).message).toContain('already open in this process');
    } finally {
      await first.stop();
    }
  });

  it('takes over a lock left by a process that died', async () => {
    const pid = await deadPid();
    writeFileSync(join(dataDir, 'animus.lock'), String(pid));
    const embedded = await startEmbedded({ dataDir });
    try {
      expect(readFileSync(join(dataDir, 'animus.lock'), 'utf8')).toBe(String(process.pid));
    } finally {
      await embedded.stop();
    }
    expect(existsSync(join(dataDir, 'animus.lock'))).toBe(false);
  });

  it('says which directory it cannot create and what to set', async () => {
    const underAFile = join(dataDir, 'animus.lock-is-not-a-dir', 'x');
    writeFileSync(join(dataDir, 'animus.lock-is-not-a-dir'), '');
    const err = await startEmbedded({ dataDir: underAFile }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AnimusError);
    expect((err as Error).message).toBe(
      `cannot create the embedded database directory ${underAFile} (ENOTDIR): set ANIMUS_DATA_DIR to a writable directory`,
    );
  });

  it('fails start-up on another embedding dimension, naming both, and releases the directory', async () => {
    const other = resolveConfig({
      dataDir,
      embedding: { provider: 'openai', dimensions: 1536 },
      openai: { baseUrl: 'http://127.0.0.1:9/v1' },
    });
    const err = await openDatabase(other).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect((err as Error).message).toMatch(
      /stores 512-dimension embeddings but EMBEDDING_DIMENSIONS is 1536/,
    );
    expect(existsSync(join(dataDir, 'animus.lock'))).toBe(false);
    const again = await openDatabase(config);
    await again.close();
  });
});
