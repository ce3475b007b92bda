// The BEIR SciFact dev split read from ../shared/datasets/scifact (never shipped), and its
// documents' local-model embeddings cached in bench/.cache (gitignored), since embedding
// 5,183 abstracts on 2 cores takes minutes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Embeddings } from '@langchain/core/embeddings';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (bench/lib → ../..). */
export const REPO_ROOT = resolve(here, '..', '..');
/** Where the data set lives, relative to the repository: `../shared/datasets/scifact`. */
export const SCIFACT_DIR = resolve(REPO_ROOT, '..', 'shared', 'datasets', 'scifact');
const CACHE_DIR = join(REPO_ROOT, 'bench', '.cache');

export interface SciFactDoc {
  id: string;
  /** `title + " " + text`, as the data set's README asks. */
  text: string;
}

export interface SciFact {
  docs: SciFactDoc[];
  queries: { id: string; text: string }[];
  /** query id → relevant doc ids */
  qrels: Map<string, Set<string>>;
}

function jsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Loads the corpus, the judged queries and their relevance judgements. */
export function loadSciFact(dir = SCIFACT_DIR): SciFact {
  if (!existsSync(join(dir, 'corpus.jsonl'))) {
    throw new Error(`SciFact not found at ${dir} (expected corpus.jsonl, queries.jsonl, qrels/dev.tsv)`);
  }
  const docs = jsonl<{ _id: string; title: string; text: string }>(join(dir, 'corpus.jsonl')).map((d) => ({
    id: d._id,
    text: `${d.title} ${d.text}`.trim(),
  }));
  const qrels = new Map<string, Set<string>>();
  const lines = readFileSync(join(dir, 'qrels', 'dev.tsv'), 'utf8')
    .split('\n')
    .slice(1);
  for (const line of lines) {
    const [q, d, score] = line.split('\t');
    if (q === undefined || d === undefined || Number(score) <= 0) continue;
    if (!qrels.has(q)) qrels.set(q, new Set());
    qrels.get(q)!.add(d);
  }
  const queries = jsonl<{ _id: string; text: string }>(join(dir, 'queries.jsonl'))
    .filter((q) => qrels.has(q._id))
    .map((q) => ({ id: q._id, text: q.text }));
  return { docs, queries, qrels };
}

/**
 * Embeds texts, reusing `bench/.cache/<name>.f32` when it holds exactly these texts
 * (checked by count and a key file). Returns the vectors and how long embedding took.
 */
export async function cachedEmbeddings(
  name: string,
  texts: string[],
  embeddings: Embeddings,
  dims: number,
  log: (line: string) => void,
): Promise<{ vectors: number[][]; seconds: number; cached: boolean }> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const data = join(CACHE_DIR, `${name}.f32`);
  const key = join(CACHE_DIR, `${name}.key`);
  const fingerprint = `${texts.length}:${dims}:${texts[0]?.slice(0, 40)}:${texts.at(-1)?.slice(0, 40)}`;
  if (existsSync(data) && existsSync(key) && readFileSync(key, 'utf8') === fingerprint) {
    const buf = readFileSync(data);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const vectors = texts.map((_, i) => Array.from(all.subarray(i * dims, (i + 1) * dims)));
    return { vectors, seconds: 0, cached: true };
  }
  const started = performance.now();
  const vectors: number[][] = [];
  const step = 256;
  for (let i = 0; i < texts.length; i += step) {
    vectors.push(...(await embeddings.embedDocuments(texts.slice(i, i + step))));
    log(`  embedded ${Math.min(i + step, texts.length)}/${texts.length}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const out = new Float32Array(texts.length * dims);
  vectors.forEach((v, i) => out.set(v, i * dims));
  writeFileSync(data, Buffer.from(out.buffer));
  writeFileSync(key, fingerprint);
  return { vectors, seconds, cached: false };
}
