// jsonb through animus's pools: every value reads as JSON.parse reads its text, and the message
// headers animus writes (a traceparent alone, one per claimed item) are read without the parser.
import { describe, expect, it, vi } from 'vitest';
import { parseJsonb } from '../../src/db/pool.js';
import { testKind, useTestDatabase } from '../support/database.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Values next to the headers' shape: escapes, other keys and types, nesting. */
const VALUES: unknown[] = [
  { traceparent: TP },
  { traceparent: 'x' },
  { traceparent: '' },
  { traceparent: 'a quote " inside' },
  { traceparent: 'a back\\slash' },
  { traceparent: 'a tab\tand a newline\n' },
  { traceparent: 'é ✓ 😀' },
  { traceparent: TP, tracestate: 'k=v' },
  { traceparent: TP, z: '"}' },
  { traceparent: 1 },
  { traceparent: [TP] },
  { traceparent: { v: TP } },
  { traceparentx: TP },
  { a: { traceparent: TP } },
  [{ traceparent: TP }],
  {},
  [],
  'traceparent',
  '{"traceparent": "x"}',
  42,
  null,
  true,
];

describe(`jsonb read through animus's pool (${testKind})`, () => {
  const db = useTestDatabase({ migrate: false });

  it('reads every value as JSON.parse reads the text jsonb writes for it', async () => {
    const { rows } = await db.pool.query<{ v: unknown; text: string }>(
      `SELECT v, v::text AS text FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, n) ORDER BY n`,
      [JSON.stringify(VALUES)],
    );
    expect(rows).toHaveLength(VALUES.length);
    for (const r of rows) expect(r.v).toEqual(JSON.parse(r.text));
    expect(rows.map((r) => r.v)).toEqual(VALUES);
  });

  it('reads the headers animus writes without the parser, and anything like them with it', async () => {
    const { rows } = await db.pool.query<{ text: string }>(
      `SELECT jsonb_build_object('traceparent', $1::text)::text AS text`,
      [TP],
    );
    const headers = rows[0]!.text;
    expect(headers).toBe(`{"traceparent": "${TP}"}`);
    const others = [
      '{"traceparent": "a \\" quote"}',
      '{"traceparent": "a \\\\ backslash"}',
      '{"traceparent": "x", "z": "y"}',
      '{"traceparent": ""}',
    ];
    const expected = others.map((text) => JSON.parse(text) as unknown);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(parseJsonb(headers)).toEqual({ traceparent: TP });
      expect(parse).not.toHaveBeenCalled();
      expect(others.map((text) => parseJsonb(text))).toEqual(expected);
      expect(parse).toHaveBeenCalledTimes(others.length);
    } finally {
      parse.mockRestore();
    }
  });
});
