// An OTLP/HTTP receiver for tests: a real HTTP server on 127.0.0.1 that keeps every request
// (path, content type, raw body, and the parsed body of a JSON export) and answers 200. Also
// clears the OTel API's global registrations between SDKs started in one test file.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { beforeAllResource } from './lifecycle.js';

/** One request the receiver got. */
export interface ReceivedExport {
  path: string;
  contentType: string | undefined;
  /** The parsed body of a JSON export (`{}` for protobuf). */
  body: Record<string, unknown>;
  raw: Buffer;
}

/** A running receiver: `endpoint` is its base URL; `received` fills as requests arrive. */
export interface OtlpReceiver {
  endpoint: string;
  received: ReceivedExport[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedExport[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const contentType = req.headers['content-type'];
      const json = contentType === 'application/json';
      received.push({
        path: req.url ?? '',
        contentType,
        body: json ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {},
        raw,
      });
      res.setHeader('content-type', contentType ?? 'application/json');
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A receiver for the test file: started before its tests, closed after them. Read `endpoint`
 * and `received` inside tests (they exist once `beforeAll` has run).
 */
export function useOtlpReceiver(): { readonly endpoint: string; readonly received: ReceivedExport[] } {
  const receiver = beforeAllResource('the OTLP receiver', startOtlpReceiver);
  return {
    get endpoint() {
      return receiver().endpoint;
    },
    get received() {
      return receiver().received;
    },
  };
}

/**
 * An SDK started earlier in the file stays registered with the OTel API after its shutdown;
 * this clears the API's globals so the next `initTelemetry` can register its own.
 */
export function resetOtelApi(): void {
  for (const api of [trace, metrics, context, propagation, logs]) api.disable();
}

/** The length-delimited fields `field` of a protobuf message, as sub-buffers (other wire types skipped). */
export function protobufFields(buf: Buffer, field: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint();
      if (key >>> 3 === field) out.push(buf.subarray(pos, pos + len));
      pos += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

/** A span of an OTLP/protobuf trace export, as far as the tests read it. */
export interface ProtobufSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** Attribute keys, in order. */
  attributeKeys: string[];
  /** Event names, in order. */
  events: string[];
}

/** Spans of an ExportTraceServiceRequest: resource_spans(1) → scope_spans(2) → spans(2). */
export function protobufSpans(body: Buffer): ProtobufSpan[] {
  const text = (b: Buffer | undefined) => b?.toString('utf8') ?? '';
  return protobufFields(body, 1)
    .flatMap((rs) => protobufFields(rs, 2))
    .flatMap((ss) => protobufFields(ss, 2))
    .map((span) => ({
      traceId: protobufFields(span, 1)[0]?.toString('hex') ?? '',
      spanId: protobufFields(span, 2)[0]?.toString('hex') ?? '',
      parentSpanId: protobufFields(span, 4)[0]?.toString('hex') ?? '',
      name: text(protobufFields(span, 5)[0]),
      attributeKeys: protobufFields(span, 9).map((kv) => text(protobufFields(kv, 1)[0])),
      events: protobufFields(span, 11).map((e) => text(protobufFields(e, 2)[0])),
    }));
}
