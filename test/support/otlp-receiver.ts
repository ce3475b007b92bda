// An OTLP/HTTP receiver for tests: a real HTTP server on 127.0.0.1 that keeps every request
// (path, content type, raw body, and the parsed body of a JSON export) and answers 200.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

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
