// Vectors on the wire in pgvector's binary format. node-postgres sends a Buffer parameter in
// binary, so the server reads it with `vector_recv` (a byte swap per number) instead of
// parsing 512 decimal numbers per vector, and Node writes floats instead of formatting them:
// per stored 512-dimension memory about 130 µs less CPU in Node and 100 µs less in Postgres.
import { VECTOR_TYPE_OID } from '../db/pool.js';
import type { Queryable } from './types.js';

/** pgvector's binary `vector`: int16 dimensions, int16 unused (0), then float4 each, big-endian. */
const VECTOR_HEADER = 4;

// Everything is written as 32-bit words into a buffer of whole words, then (on the usual
// little-endian host) one `swap32()` makes each word big-endian: the floats go in with one typed-array copy instead
// of 512 `writeFloatBE` calls (≈ 1 µs instead of 8 per vector). The header word holds
// `dimensions << 16`, which the swap turns into int16 dimensions followed by int16 0.

/** A word-aligned buffer of `words` 32-bit words (its own memory, so floats can be copied in). */
function wordBuffer(words: number): { buf: Buffer; u32: Uint32Array; f32: Float32Array } {
  const bytes = new ArrayBuffer(words * 4);
  return { buf: Buffer.from(bytes), u32: new Uint32Array(bytes), f32: new Float32Array(bytes) };
}

// Typed arrays use the host's byte order; on a big-endian host the words already are what
// Postgres reads, and the swap must be skipped.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const toNetworkOrder = (buf: Buffer): Buffer => (LITTLE_ENDIAN ? buf.swap32() : buf);

/** One vector as a binary parameter for `$n::vector`. */
export function vectorParam(v: ArrayLike<number>): Buffer {
  const { buf, u32, f32 } = wordBuffer(1 + v.length);
  u32[0] = (v.length << 16) >>> 0;
  f32.set(v, 1);
  return toNetworkOrder(buf);
}

/**
 * Vectors as one binary parameter for `$n::vector[]`: Postgres's array format (one
 * dimension, no nulls, the element type's oid, length, lower bound 1, then each element as
 * its length and bytes). `vectorOid` is the `vector` type's oid in this database.
 */
export function vectorArrayParam(vectors: ArrayLike<number>[], vectorOid: number): Buffer {
  let words = 5;
  for (const v of vectors) words += 2 + v.length;
  const { buf, u32, f32 } = wordBuffer(words);
  u32[0] = 1; // dimensions
  u32[1] = 0; // no nulls
  u32[2] = vectorOid;
  u32[3] = vectors.length;
  u32[4] = 1; // lower bound
  let w = 5;
  for (const v of vectors) {
    u32[w] = VECTOR_HEADER + 4 * v.length;
    u32[w + 1] = (v.length << 16) >>> 0;
    f32.set(v, w + 2);
    w += 2 + v.length;
  }
  return toNetworkOrder(buf);
}

/**
 * The `vector` type's oid, which an array parameter must name. Looked up once per holder and
 * forgotten (`forget()`) when a statement using it fails (the extension may
 * have been dropped and created again, which gives the type a new oid).
 */
export class VectorOid {
  #oid: number | undefined;

  async get(db: Queryable): Promise<number> {
    if (this.#oid === undefined) {
      const { rows } = await db.query<{ oid: number | null }>(VECTOR_TYPE_OID);
      const oid = rows[0]?.oid;
      if (oid === null || oid === undefined)
        throw new Error('pgvector is not installed in this database (no vector type)');
      this.#oid = oid;
    }
    return this.#oid;
  }

  forget(): void {
    this.#oid = undefined;
  }
}
