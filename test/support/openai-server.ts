// A real OpenAI-compatible HTTP server for tests: node:http on 127.0.0.1:0 answering
// POST /v1/embeddings and /v1/chat/completions (plain and streamed), with scripted failures,
// delays and usage (cached tokens included). Every request is recorded so tests can assert
// on what the real `@langchain/openai` client sent. Nothing here touches the internet.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/v1/embeddings`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body (`undefined` when the body was empty or not JSON). */
  readonly body: unknown;
  /** The status the server answered with. */
  status: number;
}

/** Token usage reported in responses. */
export interface FakeUsage {
  /** Default: a word count of the input. */
  promptTokens?: number;
  /** Default 7. */
  completionTokens?: number;
  /** Reported as `prompt_tokens_details.cached_tokens`. Default 0. */
  cachedTokens?: number;
}

/** A scripted failure: the next `times` matching requests get this status. */
export interface FakeFailure {
  status: number;
  /** How many requests fail. Default 1. */
  times?: number;
  /** Only requests to this path (e.g. `/v1/embeddings`); default any path. */
  path?: string;
  /** Sent as a `retry-after` header (seconds) when set. */
  retryAfterSeconds?: number;
  /** Error message in the body. Default `scripted failure <status>`. */
  message?: string;
}

/** Options for {@link startOpenAIServer}. */
export interface OpenAIServerOptions {
  /** Dimension used when a request does not ask for one. Default 8. */
  defaultDimensions?: number;
  /** Reply text of chat completions. Default `"ok"`. */
  chatReply?: string;
}

/** The running server and its controls. */
export interface OpenAITestServer {
  /** Base URL to give the client (ends in `/v1`), e.g. `http://127.0.0.1:43123/v1`. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Replaces how embeddings are computed (default: a deterministic unit vector per text). */
  setEmbedder(fn: (text: string, dimensions: number, model: string) => number[]): void;
  /** Sets the chat reply text. */
  setChatReply(text: string): void;
  /** Sets the usage reported from now on. */
  setUsage(usage: FakeUsage): void;
  /** Queues a failure for the next matching request(s). */
  fail(failure: FakeFailure): void;
  /** Delays every response by `ms` (0 = none), to exercise client timeouts. */
  setDelay(ms: number): void;
  /** Resolves once at least `n` requests (optionally to `path`) have been received. */
  waitForRequests(n: number, path?: string): Promise<void>;
  /** Stops the server, cutting any open connection. Idempotent. */
  close(): Promise<void>;
}

/** A deterministic unit vector for a text: the same text always gives the same vector. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const out: number[] = [];
  let block = 0;
  while (out.length < dimensions) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < digest.length && out.length < dimensions; i += 2) {
      out.push(digest.readUInt16LE(i) / 65535 - 0.5);
    }
    block += 1;
  }
  const norm = Math.hypot(...out) || 1;
  return out.map((v) => v / norm);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function countWords(value: unknown): number {
  if (typeof value === 'string') return value.split(/\s+/).filter((w) => w !== '').length;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + countWords(v), 0);
  if (typeof value === 'object' && value !== null) {
    return Object.values(value).reduce<number>((n, v) => n + countWords(v), 0);
  }
  return 0;
}

function toBase64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

/** Starts the server on a free loopback port. */
export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAITestServer> {
  const requests: RecordedRequest[] = [];
  const failures: (FakeFailure & { left: number })[] = [];
  const waiters: { n: number; path: string | undefined; resolve: () => void }[] = [];
  let embedder: (text: string, dims: number, model: string) => number[] = (text, dims) =>
    fakeEmbedding(text, dims);
  let chatReply = options.chatReply ?? 'ok';
  let usage: FakeUsage = {};
  let delayMs = 0;
  const defaultDims = options.defaultDimensions ?? 8;

  const countFor = (path: string | undefined): number =>
    path === undefined ? requests.length : requests.filter((r) => r.path === path).length;
  const wake = (): void => {
    for (const w of [...waiters]) {
      if (countFor(w.path) >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };

  const send = (res: ServerResponse, rec: RecordedRequest, status: number, body: unknown): void => {
    rec.status = status;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const usageBody = (prompt: unknown, chat: boolean): Record<string, unknown> => {
    const promptTokens = usage.promptTokens ?? Math.max(1, countWords(prompt));
    const completionTokens = chat ? (usage.completionTokens ?? 7) : 0;
    return {
      prompt_tokens: promptTokens,
      ...(chat ? { completion_tokens: completionTokens } : {}),
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const rec: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, status: 0 };
    requests.push(rec);
    wake();
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (res.destroyed) return;

    const failure = failures.find((f) => f.left > 0 && (f.path === undefined || f.path === path));
    if (failure !== undefined) {
      failure.left -= 1;
      if (failure.retryAfterSeconds !== undefined) {
        res.setHeader('retry-after', String(failure.retryAfterSeconds));
      }
      send(res, rec, failure.status, {
        error: {
          message: failure.message ?? `scripted failure ${failure.status}`,
          type: failure.status === 429 ? 'rate_limit_exceeded' : 'server_error',
          code: null,
        },
      });
      return;
    }
    const b = (body ?? {}) as Record<string, unknown>;
    const model = typeof b.model === 'string' ? b.model : 'unknown-model';
    if (req.method === 'POST' && path.endsWith('/embeddings')) {
      const input = b.input;
      const texts = (Array.isArray(input) ? input : [input]).map((t) =>
        typeof t === 'string' ? t : JSON.stringify(t),
      );
      const dims = typeof b.dimensions === 'number' ? b.dimensions : defaultDims;
      const base64 = b.encoding_format === 'base64';
      send(res, rec, 200, {
        object: 'list',
        model,
        data: texts.map((t, index) => {
          const vec = embedder(t, dims, model);
          return { object: 'embedding', index, embedding: base64 ? toBase64(vec) : vec };
        }),
        usage: usageBody(texts, false),
      });
      return;
    }
    if (req.method === 'POST' && path.endsWith('/chat/completions')) {
      const id = `chatcmpl-${requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const u = usageBody(b.messages, true);
      if (b.stream === true) {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const chunk = (delta: Record<string, unknown>, finish: string | null, extra = {}): string =>
          `data: ${JSON.stringify({
            id,
            object: 'chat.completion.chunk',
            created,
            model,
            choices: [{ index: 0, delta, finish_reason: finish }],
            ...extra,
          })}\n\n`;
        res.write(chunk({ role: 'assistant', content: '' }, null));
        for (const word of chatReply.split(/(?<= )/)) res.write(chunk({ content: word }, null));
        res.write(chunk({}, 'stop'));
        const so = b.stream_options as { include_usage?: boolean } | undefined;
        if (so?.include_usage === true) {
          res.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: u })}\n\n`,
          );
        }
        res.end('data: [DONE]\n\n');
        return;
      }
      send(res, rec, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: chatReply, refusal: null },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: u,
      });
      return;
    }
    send(res, rec, 404, { error: { message: `no route ${req.method} ${path}`, type: 'not_found' } });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setEmbedder(fn) {
      embedder = fn;
    },
    setChatReply(text) {
      chatReply = text;
    },
    setUsage(u) {
      usage = { ...u };
    },
    fail(failure) {
      failures.push({ ...failure, left: failure.times ?? 1 });
    },
    setDelay(ms) {
      delayMs = ms;
    },
    waitForRequests(n, path) {
      if (countFor(path) >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, path, resolve }));
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
