// Converts values from the client into plain JSON for HTTP and `--json` output: bigint ids
// become strings, dates ISO strings, and embedding vectors are left out (large, and not
// something a caller of the API or CLI reads).

/** Keys never written to API/CLI output. */
const OMITTED_KEYS = new Set(['embedding']);

/** A JSON-safe copy of `value`. */
export function toJson(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (ArrayBuffer.isView(value)) return undefined;
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (OMITTED_KEYS.has(k) || v === undefined || typeof v === 'function') continue;
      out[k] = toJson(v);
    }
    return out;
  }
  return value;
}
