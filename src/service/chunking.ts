// Splits a document into chunks for embedding: paragraphs packed up to a size limit,
// Markdown headings starting a new chunk and named in each chunk's section. Pure and
// deterministic: the same text and options always give the same chunks, which is what
// makes re-ingesting a source comparable chunk for chunk.
import { ValidationError } from '../errors/index.js';

/** How a document's text is laid out. */
export type DocumentFormat = 'markdown' | 'text';

/** Options for {@link chunkDocument}. */
export interface ChunkOptions {
  /** Layout of the text. Default `markdown` (plain text is Markdown without headings). */
  format?: DocumentFormat;
  /** Largest chunk in characters (64..20000). Default 1200. */
  maxChars?: number;
}

/** One piece of a document. */
export interface Chunk {
  /** Position in the document, from 0. */
  readonly index: number;
  readonly text: string;
  /** Heading path above the chunk (`Setup › Power`), or `undefined` before any heading. */
  readonly section: string | undefined;
  /** Character offsets of the chunk's first and last paragraph in the normalised text. */
  readonly start: number;
  readonly end: number;
}

/** Default largest chunk, in characters. */
export const DEFAULT_CHUNK_CHARS = 1200;
const MIN_CHUNK_CHARS = 64;
const MAX_CHUNK_CHARS = 20_000;

interface Block {
  text: string;
  start: number;
  end: number;
  heading: { level: number; title: string } | undefined;
}

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;

/** Paragraphs (blank-line separated) with their offsets; Markdown headings recognised. */
function blocks(text: string, format: DocumentFormat): Block[] {
  const out: Block[] = [];
  const re = /[^\n]+(?:\n(?![ \t]*\n)[^\n]*)*/g;
  for (const m of text.matchAll(re)) {
    const raw = m[0].trim();
    if (raw === '') continue;
    const start = m.index;
    const end = start + m[0].length;
    if (format === 'markdown') {
      // A heading line ends its paragraph even without a blank line after it.
      const lines = raw.split('\n');
      const h = HEADING.exec(lines[0]!.trim());
      if (h !== null) {
        out.push({ text: lines[0]!.trim(), start, end, heading: { level: h[1]!.length, title: h[2]! } });
        const rest = lines.slice(1).join('\n').trim();
        if (rest !== '') out.push({ text: rest, start, end, heading: undefined });
        continue;
      }
    }
    out.push({ text: raw.replace(/[ \t]*\n[ \t]*/g, ' '), start, end, heading: undefined });
  }
  return out;
}

/** Cuts an over-long paragraph at sentence ends, then at spaces, never mid-word if avoidable. */
function splitLong(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const sentences = text.split(/(?<=[.!?])\s+/);
  const pieces: string[] = [];
  let current = '';
  const push = (s: string) => {
    if (s !== '') pieces.push(s);
  };
  for (const sentence of sentences) {
    if (sentence.length > max) {
      push(current);
      current = '';
      let rest = sentence;
      while (rest.length > max) {
        let cut = rest.lastIndexOf(' ', max);
        if (cut < max / 2) cut = max;
        pieces.push(rest.slice(0, cut).trim());
        rest = rest.slice(cut).trim();
      }
      current = rest;
      continue;
    }
    const joined = current === '' ? sentence : `${current} ${sentence}`;
    if (joined.length > max) {
      push(current);
      current = sentence;
    } else current = joined;
  }
  push(current);
  return pieces;
}

/**
 * Splits `text` into chunks of at most `maxChars` characters. Paragraphs are kept whole
 * where they fit and packed together while they do; a heading always starts a new chunk.
 * Throws {@link ValidationError} for empty text or an out-of-range `maxChars`.
 */
export function chunkDocument(text: string, options: ChunkOptions = {}): Chunk[] {
  const format = options.format ?? 'markdown';
  const max = options.maxChars ?? DEFAULT_CHUNK_CHARS;
  if (!Number.isInteger(max) || max < MIN_CHUNK_CHARS || max > MAX_CHUNK_CHARS) {
    throw new ValidationError(
      'maxChunkChars',
      `must be a whole number from ${MIN_CHUNK_CHARS} to ${MAX_CHUNK_CHARS}, got ${String(max)}`,
      { limit: MAX_CHUNK_CHARS },
    );
  }
  const normalised = text.replace(/\r\n?/g, '\n');
  const chunks: Chunk[] = [];
  const headings: string[] = [];
  let parts: string[] = [];
  let start = 0;
  let end = 0;
  const flush = () => {
    if (parts.length === 0) return;
    chunks.push({
      index: chunks.length,
      text: parts.join('\n\n'),
      section: headings.length === 0 ? undefined : headings.filter((h) => h !== '').join(' › '),
      start,
      end,
    });
    parts = [];
  };
  for (const block of blocks(normalised, format)) {
    if (block.heading !== undefined) {
      flush();
      headings.length = Math.min(headings.length, block.heading.level - 1);
      while (headings.length < block.heading.level - 1) headings.push('');
      headings.push(block.heading.title);
      continue;
    }
    for (const piece of splitLong(block.text, max)) {
      const size = parts.reduce((n, p) => n + p.length + 2, 0) + piece.length;
      if (parts.length > 0 && size > max) flush();
      if (parts.length === 0) start = block.start;
      parts.push(piece);
      end = block.end;
    }
  }
  flush();
  if (chunks.length === 0)
    throw new ValidationError('text', 'has no content to ingest (empty or only headings)');
  return chunks;
}
