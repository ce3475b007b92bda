// The chunker and the ingest plan: deterministic, paragraphs kept whole where they fit,
// headings start chunks and name sections, nothing lost, bad input named before any work.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/index.js';
import { chunkDocument } from '../../src/service/chunking.js';
import { parseIngestParams, planIngest } from '../../src/service/ingest.js';
import { checkBearer, isLoopbackHost } from '../../src/service/auth.js';
import { Secret } from '../../src/config/index.js';

const words = (n: number, w = 'word') => Array.from({ length: n }, (_, i) => `${w}${i}`).join(' ');

describe('chunkDocument', () => {
  it('packs short paragraphs together up to the limit and keeps every word', () => {
    const paras = Array.from({ length: 10 }, (_, i) => `Paragraph ${i} ${words(8)}.`);
    const chunks = chunkDocument(paras.join('\n\n'), { maxChars: 200 });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.text.length <= 200)).toBe(true);
    expect(chunks.map((c) => c.text).join('\n\n')).toBe(paras.join('\n\n'));
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  });

  it('starts a chunk at each heading and records the heading path', () => {
    const text =
      '# Guide\n\nIntro text.\n\n## Setup\n\nPlug it in.\n\n### Power\n\nUse 12 V.\n\n## Use\n\nPress go.';
    const chunks = chunkDocument(text);
    expect(chunks.map((c) => [c.section, c.text])).toEqual([
      ['Guide', 'Intro text.'],
      ['Guide › Setup', 'Plug it in.'],
      ['Guide › Setup › Power', 'Use 12 V.'],
      ['Guide › Use', 'Press go.'],
    ]);
  });

  it('treats # lines as text in plain-text format', () => {
    const chunks = chunkDocument('# not a heading\n\nbody', { format: 'text' });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe('# not a heading\n\nbody');
    expect(chunks[0]!.section).toBeUndefined();
  });

  it('splits an over-long paragraph at sentence ends, then at spaces', () => {
    const sentence = `${words(10)}.`;
    const long = Array.from({ length: 30 }, () => sentence).join(' ');
    const chunks = chunkDocument(long, { maxChars: 200 });
    expect(chunks.every((c) => c.text.length <= 200)).toBe(true);
    expect(chunks.every((c) => c.text.endsWith('.'))).toBe(true);
    const noStops = chunkDocument(words(200), { maxChars: 100 });
    expect(noStops.every((c) => c.text.length <= 100 && !c.text.startsWith(' '))).toBe(true);
    expect(noStops.map((c) => c.text).join(' ')).toBe(words(200));
  });

  it('is deterministic and normalises CRLF', () => {
    const a = chunkDocument('one\r\n\r\ntwo\r\nthree', { maxChars: 64 });
    const b = chunkDocument('one\n\ntwo\nthree', { maxChars: 64 });
    expect(a).toEqual(b);
    expect(a[0]!.text).toBe('one\n\ntwo three');
  });

  it('rejects empty text and a bad size, naming the field', () => {
    expect(() => chunkDocument('  \n\n # Only a heading')).toThrow(/text: has no content/);
    expect(() => chunkDocument('x', { maxChars: 10 })).toThrow(ValidationError);
    expect(() => chunkDocument('x', { maxChars: 10 })).toThrow(/maxChunkChars/);
  });
});

describe('ingest params', () => {
  const bad: [unknown, string][] = [
    [null, 'params'],
    [{ text: 'x' }, 'params.source'],
    [{ source: '', text: 'x' }, 'params.source'],
    [{ source: 's' }, 'params.text'],
    [{ source: 's', text: 'x', document: { text: 'y' } }, 'params.text'],
    [{ source: 's', document: 'y' }, 'params.document'],
    [{ source: 's', document: { text: '' } }, 'params.document.text'],
    [{ source: 's', document: { text: 'y', format: 'pdf' } }, 'params.document.format'],
    [{ source: 's', text: 'x', memoryType: '' }, 'params.memoryType'],
    [{ source: 's', text: 'x', metadata: [1] }, 'params.metadata'],
    [{ source: 's', text: 'x', maxChunkChars: '9' }, 'params.maxChunkChars'],
  ];
  for (const [params, field] of bad) {
    it(`rejects ${JSON.stringify(params)} naming ${field}`, () => {
      let caught: unknown;
      try {
        parseIngestParams(params);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).field).toBe(field);
    });
  }

  it('defaults and document hash: same input same hash; text, size or type change it', () => {
    const p = { source: 's', text: 'a\n\nb' };
    expect(parseIngestParams(p)).toMatchObject({
      memoryType: 'document',
      format: 'markdown',
      maxChunkChars: 1200,
    });
    const h = planIngest(p).documentHash;
    expect(planIngest({ ...p }).documentHash).toBe(h);
    expect(planIngest({ ...p, text: 'a\n\nc' }).documentHash).not.toBe(h);
    expect(planIngest({ ...p, maxChunkChars: 64 }).documentHash).not.toBe(h);
    expect(planIngest({ ...p, memoryType: 'note' }).documentHash).not.toBe(h);
  });

  it('identical chunks are planned once', () => {
    const plan = planIngest({ source: 's', text: '# A\n\nsame\n\n# B\n\nsame\n\n# C\n\nother' });
    expect(plan.chunks.map((c) => c.text)).toEqual(['same', 'other']);
  });
});

describe('auth helpers', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org', '128.0.0.1']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it('checks bearer tokens', () => {
    const token = new Secret('s3cret-token-value-123');
    expect(checkBearer(undefined, token)).toBe('missing');
    expect(checkBearer('Token abc', token)).toBe('malformed');
    expect(checkBearer('Bearer s3cret-token-value-124', token)).toBe('wrong');
    expect(checkBearer('Bearer s3cret', token)).toBe('wrong');
    expect(checkBearer('Bearer s3cret-token-value-123', token)).toBe('ok');
    expect(checkBearer('bearer  s3cret-token-value-123 ', token)).toBe('ok');
    expect(checkBearer(undefined, undefined)).toBe('ok');
  });
});
