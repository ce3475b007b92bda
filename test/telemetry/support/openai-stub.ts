// A tiny OpenAI-compatible HTTP server on 127.0.0.1 for telemetry tests: chat completions and
// embeddings with fixed usage (cached prompt tokens included), and a switch to fail with a
// chosen HTTP status. It records the request bodies it received.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpenAiStub {
  baseUrl: string;
  port: number;
  /** Parsed JSON bodies, in arrival order. */
  requests: Array<{ path: string; body: Record<string, unknown> }>;
  /** When set, every request answers with this HTTP status and an error body. */
  failWith: number | undefined;
  close(): Promise<void>;
}

export const STUB_CHAT_REPLY = 'The capital of France is Paris.';
export const STUB_CHAT_USAGE = { prompt_tokens: 42, completion_tokens: 7, total_tokens: 49, cached: 30 };
export const STUB_EMBED_TOKENS = 11;

export async function startOpenAiStub(options: { dimensions?: number } = {}): Promise<OpenAiStub> {
  const dims = options.dimensions ?? 8;
  const stub: OpenAiStub = {
    baseUrl: '',
    port: 0,
    requests: [],
    failWith: undefined,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      const path = (req.url ?? '').replace(/^\/v1/, '');
      stub.requests.push({ path, body });
      res.setHeader('content-type', 'application/json');
      if (stub.failWith !== undefined) {
        res.statusCode = stub.failWith;
        res.end(JSON.stringify({ error: { message: 'stub failure', type: 'server_error', code: null } }));
        return;
      }
      if (path === '/chat/completions' && body.stream === true) {
        // Server-sent events: content in two chunks, then the finish reason, then usage.
        res.setHeader('content-type', 'text/event-stream');
        const base = { id: 'chatcmpl-stub-stream', object: 'chat.completion.chunk', created: 1_700_000_000 };
        const model = `${String(body.model)}-2026-01-01`;
        const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        const half = Math.floor(STUB_CHAT_REPLY.length / 2);
        for (const [i, text] of [STUB_CHAT_REPLY.slice(0, half), STUB_CHAT_REPLY.slice(half)].entries()) {
          const delta = i === 0 ? { role: 'assistant', content: text } : { content: text };
          send({ ...base, model, choices: [{ index: 0, delta, finish_reason: null }] });
        }
        send({ ...base, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
        send({
          ...base,
          model,
          choices: [],
          usage: {
            prompt_tokens: STUB_CHAT_USAGE.prompt_tokens,
            completion_tokens: STUB_CHAT_USAGE.completion_tokens,
            total_tokens: STUB_CHAT_USAGE.total_tokens,
            prompt_tokens_details: { cached_tokens: STUB_CHAT_USAGE.cached },
          },
        });
        res.end('data: [DONE]\n\n');
        return;
      }
      if (path === '/chat/completions') {
        res.end(
          JSON.stringify({
            id: 'chatcmpl-stub-1',
            object: 'chat.completion',
            created: 1_700_000_000,
            model: `${String(body.model)}-2026-01-01`,
            choices: [
              { index: 0, message: { role: 'assistant', content: STUB_CHAT_REPLY }, finish_reason: 'stop' },
            ],
            usage: {
              prompt_tokens: STUB_CHAT_USAGE.prompt_tokens,
              completion_tokens: STUB_CHAT_USAGE.completion_tokens,
              total_tokens: STUB_CHAT_USAGE.total_tokens,
              prompt_tokens_details: { cached_tokens: STUB_CHAT_USAGE.cached },
            },
          }),
        );
        return;
      }
      if (path === '/embeddings') {
        const input = Array.isArray(body.input) ? body.input : [body.input];
        res.end(
          JSON.stringify({
            object: 'list',
            model: `${String(body.model)}-v1`,
            data: input.map((_, i) => {
              const vector = Array.from({ length: dims }, (_v, d) => (d === i % dims ? 1 : 0));
              // The openai client asks for base64 (packed float32) unless told otherwise.
              const embedding =
                body.encoding_format === 'base64'
                  ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
                  : vector;
              return { object: 'embedding', index: i, embedding };
            }),
            usage: { prompt_tokens: STUB_EMBED_TOKENS, total_tokens: STUB_EMBED_TOKENS },
          }),
        );
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { message: `no route ${path}` } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  stub.port = port;
  stub.baseUrl = `http://127.0.0.1:${port}/v1`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}
