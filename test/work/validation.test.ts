import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/index.js';
import type { SubmitItem } from '../../src/work/types.js';
import type { WorkItems } from '../../src/work/work-items.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { counts, item, useWorkDatabase } from './factory.js';

let db: TestDatabase;
let work: WorkItems;

useWorkDatabase((d, w) => ((db = d), (work = w)), { work: { maxParamsBytes: 1024 }, reset: false });

const cyclic: Record<string, unknown> = {};
cyclic.self = cyclic;

const bad: Array<[string, Partial<SubmitItem> | Record<string, unknown>, RegExp]> = [
  ['missing workType', { workType: undefined }, /workType: is required/],
  ['blank workType', { workType: '   ' }, /workType: must be a non-empty string/],
  ['missing source', { source: undefined }, /source: is required/],
  ['params with a BigInt', { params: { n: 1n } }, /params\.n: a bigint is not JSON-serialisable/],
  ['params with a function', { params: { f: () => 1 } }, /params\.f: a function is not JSON-serialisable/],
  ['params with NaN', { params: { x: Number.NaN } }, /params\.x: NaN is not JSON-serialisable/],
  ['params with a cycle', { params: cyclic }, /params\.self: contains a cycle/],
  [
    'params over the size limit',
    { params: { blob: 'x'.repeat(2000) } },
    /params: is \d+ bytes of JSON, over the limit of 1024/,
  ],
  ['negative delay', { delay: -1 }, /delay: must be a finite number of seconds >= 0/],
  ['infinite delay', { delay: Number.POSITIVE_INFINITY }, /delay: must be a finite number/],
  ['invalid Date delay', { delay: new Date('nope') }, /delay: is an invalid Date/],
  ['maxAttempts 0', { maxAttempts: 0 }, /maxAttempts: must be a whole number from 1 to 1000, got 0/],
  ['fractional maxAttempts', { maxAttempts: 1.5 }, /maxAttempts: must be a whole number/],
  ['unknown queue', { queue: 'nosuchqueue' }, /queue: unknown queue 'nosuchqueue'/],
  ['hostile queue name', { queue: 'work; DROP TABLE work_items; --' }, /queue: .* is not a valid queue name/],
  ['quoted queue name', { queue: 'a"b' }, /queue: .* is not a valid queue name/],
  ['too long queue name', { queue: 'q'.repeat(60) }, /queue: .* longer than 47/],
  ['parentId not a uuid', { parentId: "1' OR '1'='1" }, /parentId: must be a uuid/],
  ['fractional priority', { priority: 0.5 }, /priority: must be a 32-bit integer/],
];

describe(`bad input is refused before anything is written (${testKind})`, () => {
  it.each(bad)('%s', async (_name, overrides, message) => {
    const before = await counts(db.pool);
    const input = { ...item(), ...overrides } as SubmitItem;
    await expect(work.submit(input)).rejects.toThrow(ValidationError);
    await expect(work.submit(input)).rejects.toThrow(message);
    await expect(work.submitBatch([item(), input])).rejects.toThrow(/items\[1\]\./);
    expect(await counts(db.pool)).toEqual(before);
  });

  it('names the field and limit on the error object', async () => {
    const err = await work.submit(item({ params: { blob: 'x'.repeat(5000) } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED', field: 'params', limit: 1024 });
  });

  it('a parent that does not exist is refused and nothing is written', async () => {
    const before = await counts(db.pool);
    await expect(work.submit(item({ parentId: '00000000-0000-4000-8000-000000000000' }))).rejects.toThrow(
      /parentId: no work item/,
    );
    expect(await counts(db.pool)).toEqual(before);
  });

  it('the tables still exist after the hostile inputs', async () => {
    const { rows } = await db.pool.query("SELECT to_regclass('work_items')::text AS t");
    expect(rows[0].t).toBe('work_items');
  });
});
