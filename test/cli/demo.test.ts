// `animus demo` itself, as CI runs it: a real process on the embedded database, offline.
// It ingests the bundled corpus through the queue, searches it in three modes, reports the
// telemetry it recorded, and leaves nothing behind in ANIMUS_DATA_DIR.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../service/cli-process.js';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'animus-demo-test-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface DemoReport {
  documents: number;
  chunks: number;
  memories: number;
  failed: number;
  seconds: number;
  searches: { query: string; mode: string; ms: number; hits: { memory: { content: string } }[] }[];
  telemetry: {
    spans: { name: string; count: number }[];
    operations: { operation: string; count: number }[];
    transitions: { from: string; to: string; count: number }[];
  };
}

describe('animus demo', () => {
  it('runs end to end offline, exits 0 and cleans up', { timeout: 240_000 }, async () => {
    // DATABASE_URL is ignored on purpose: the demo never touches a real database.
    const r = await runCliProcess(['--json', 'demo'], {
      ANIMUS_DATA_DIR: dataDir,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never',
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as DemoReport;
    console.log(
      `[animus demo] ${report.documents} documents, ${report.chunks} chunks in ${report.seconds.toFixed(1)} s`,
    );
    expect(report.documents).toBeGreaterThanOrEqual(10);
    expect(report.failed).toBe(0);
    expect(report.memories).toBe(report.chunks);
    expect(report.searches).toHaveLength(9);
    for (const s of report.searches) expect(s.hits.length, `${s.mode} ${s.query}`).toBeGreaterThan(0);
    const lidar = report.searches.filter((s) => s.query === 'lidar calibration');
    for (const s of lidar) expect(s.hits[0]!.memory.content.toLowerCase()).toContain('lidar');
    const spans = Object.fromEntries(report.telemetry.spans.map((s) => [s.name, s.count]));
    expect(spans['process demo']).toBe(report.documents);
    expect(spans['send demo']).toBe(report.documents);
    expect(Object.keys(spans).some((n) => n.startsWith('embeddings '))).toBe(true);
    expect(report.telemetry.transitions).toContainEqual({
      from: 'running',
      to: 'completed',
      count: report.documents,
    });
    // Progress went to stderr as plain lines (not a terminal).
    expect(r.stderr).toMatch(/ingest: \d+\/\d+ \(100%\)/);
    // Nothing left behind, and the demo is re-runnable.
    expect(await readdir(dataDir)).toEqual([]);
    // Generous bound for a loaded CI machine; the README's target is under 60 s.
    expect(report.seconds).toBeLessThan(120);
  });
});
