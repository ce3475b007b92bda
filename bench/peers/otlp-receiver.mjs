// A minimal OTLP/HTTP receiver for the tracing rows of the queue benchmark, run as its own
// process (plain Node, no loader) so its work is not counted in the measured process. It
// answers every POST with 200 and counts requests, bytes and spans (OTLP/JSON by a string
// scan, OTLP/protobuf by walking the length-delimited fields without decoding them).
// Protocol on stdout, one JSON object per line: {"url": …} once listening; on a line "stats"
// on stdin the counts so far; stdin closing ends the process.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import process from 'node:process';
import { createInterface } from 'node:readline';

const stats = { requests: 0, bytes: 0, spans: 0, traceBytes: 0, byPath: {}, contentTypes: {} };

/** Where the last `varint` call ended (a module variable: no array per field). */
let end = 0;

/** Reads a protobuf varint at `pos`; returns its value (where it ends is `end`). */
function varint(buf, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      end = pos;
      return value;
    }
    scale *= 128;
  }
}

/**
 * Counts the length-delimited fields `field` in buf[from, to); with `inner`, counts instead the
 * fields `inner.field` inside each of them (recursively).
 */
function countFields(buf, from, to, field, inner) {
  let n = 0;
  let pos = from;
  while (pos < to) {
    const key = varint(buf, pos);
    pos = end;
    const wire = key & 7;
    if (wire === 0) {
      varint(buf, pos);
      pos = end;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint(buf, pos);
      const start = end;
      pos = start + len;
      if (key >>> 3 === field)
        n += inner === undefined ? 1 : countFields(buf, start, pos, inner.field, inner.inner);
    } else return n; // groups are not used by OTLP
  }
  return n;
}

/** Spans in an ExportTraceServiceRequest: resource_spans(1) → scope_spans(2) → spans(2). */
const SPANS_PATH = { field: 2, inner: { field: 2 } };
const protobufSpans = (buf) => countFields(buf, 0, buf.length, 1, SPANS_PATH);

/** Spans in OTLP/JSON: every "spanId" but those inside links (links carry one each too). */
function jsonSpans(text) {
  let ids = text.split('"spanId"').length - 1;
  for (const m of text.matchAll(/"links":\[(.*?)\]/g)) ids -= (m[1] ?? '').split('"spanId"').length - 1;
  return ids;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' });
    res.end(req.headers['content-type']?.includes('protobuf') ? '' : '{}');
    const body = Buffer.concat(chunks);
    const path = req.url ?? '';
    const type = req.headers['content-type'] ?? '';
    stats.requests++;
    stats.bytes += body.length;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    stats.contentTypes[type] = (stats.contentTypes[type] ?? 0) + 1;
    if (path.endsWith('/v1/traces')) {
      stats.traceBytes += body.length;
      try {
        stats.spans += type.includes('protobuf') ? protobufSpans(body) : jsonSpans(body.toString('utf8'));
      } catch {
        // A body this receiver cannot walk is still counted in requests and bytes.
      }
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify(stats)}\n`);
});
input.on('close', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
