// The OpenAI-compatible path with the real @langchain/openai client against a local HTTP
// server started by the test: request shape, retries with back-off on 429/5xx, no retry on
// other 4xx, timeouts, and errors naming provider and model. Also chat and its absence.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { ProviderError } from '../../src/errors/index.js';
import { createChatModel, createEmbeddings, NoChatModelError } from '../../src/llm/index.js';
import { startOpenAIServer, type OpenAITestServer } from '../support/openai-server.js';

let server: OpenAITestServer;

beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.requests.length = 0;
  server.setDelay(0);
});

function config(extra: Parameters<typeof resolveConfig>[0] = {}) {
  return resolveConfig({
    embedding: { provider: 'openai', model: 'text-embedding-3-small', dimensions: 64 },
    openai: { apiKey: 'sk-test-key', baseUrl: server.url },
    chatModel: 'openrouter/test-model',
    ...extra,
  });
}

describe('OpenAI-compatible embeddings', () => {
  it('sends model, dimensions and key to OPENAI_BASE_URL and returns the vectors', async () => {
    const embeddings = createEmbeddings(config());
    const vectors = await embeddings.embedDocuments(['first text', 'second text']);
    expect(vectors).toHaveLength(2);
    expect(vectors[0]).toHaveLength(64);
    const [req] = server.requests;
    expect(req?.path).toBe('/v1/embeddings');
    expect(req?.body).toMatchObject({
      model: 'text-embedding-3-small',
      dimensions: 64,
      input: ['first text', 'second text'],
    });
    expect(req?.headers.authorization).toBe('Bearer sk-test-key');
    expect(await embeddings.embedQuery('first text')).toEqual(vectors[0]);
  });

  it('retries a 429 and a 500 with back-off, then succeeds', async () => {
    server.fail({ status: 429, path: '/v1/embeddings' });
    server.fail({ status: 500, path: '/v1/embeddings' });
    const vectors = await createEmbeddings(config()).embedDocuments(['retry me']);
    expect(vectors).toHaveLength(1);
    expect(server.requests.map((r) => r.status)).toEqual([429, 500, 200]);
  });

  it('gives up after the retries with a ProviderError naming provider, model and status', async () => {
    server.fail({ status: 503, times: 2, path: '/v1/embeddings' });
    const err = await createEmbeddings(config(), { maxRetries: 1 })
      .embedDocuments(['down'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      provider: 'openai',
      model: 'text-embedding-3-small',
      status: 503,
      retryable: true,
    });
    expect((err as Error).message).toContain("openai model 'text-embedding-3-small'");
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry a 400', async () => {
    server.fail({ status: 400, path: '/v1/embeddings', message: 'bad input' });
    const err = await createEmbeddings(config())
      .embedDocuments(['bad'])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVIDER_FAILED', status: 400, retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  it('times out a slow endpoint', async () => {
    server.setDelay(2_000);
    const err = await createEmbeddings(config(), { timeoutMs: 200, maxRetries: 0 })
      .embedDocuments(['slow'])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVIDER_FAILED', model: 'text-embedding-3-small', retryable: true });
  });

  it('fails with the provider named when nothing listens', async () => {
    const dead = config({ openai: { apiKey: 'k', baseUrl: 'http://127.0.0.1:9/v1' } });
    const err = await createEmbeddings(dead, { maxRetries: 0 })
      .embedDocuments(['x'])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVIDER_FAILED', provider: 'openai' });
    expect((err as Error).message).toContain('127.0.0.1:9');
  });
});

describe('chat model', () => {
  it('talks to any OpenAI-compatible endpoint and reports usage with cached tokens', async () => {
    server.setChatReply('hello from the test server');
    server.setUsage({ promptTokens: 12, completionTokens: 5, cachedTokens: 4 });
    const chat = createChatModel(config());
    const reply = await chat.invoke('Say hello');
    expect(reply.content).toBe('hello from the test server');
    expect(reply.usage_metadata).toMatchObject({ input_tokens: 12, output_tokens: 5 });
    expect(reply.usage_metadata?.input_token_details?.cache_read).toBe(4);
    expect(server.requests[0]?.body).toMatchObject({ model: 'openrouter/test-model' });
  });

  it('retries a 429 and turns a final failure into a ProviderError', async () => {
    server.fail({ status: 429, path: '/v1/chat/completions' });
    expect((await createChatModel(config()).invoke('x')).content).toBeTruthy();
    server.fail({ status: 500, times: 5, path: '/v1/chat/completions' });
    const err = await createChatModel(config(), { maxRetries: 0 })
      .invoke('x')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'PROVIDER_FAILED',
      provider: 'openai',
      model: 'openrouter/test-model',
      status: 500,
    });
    server.fail({ status: 500, times: 5, path: '/v1/chat/completions' });
    const streamErr = await (async () => {
      for await (const _ of await createChatModel(config(), { maxRetries: 0 }).stream('x')) void _;
    })().catch((e: unknown) => e);
    expect(streamErr).toMatchObject({ code: 'PROVIDER_FAILED', model: 'openrouter/test-model' });
  });

  it('says clearly when no chat model is configured', () => {
    const noChat = resolveConfig({ openai: { apiKey: 'k' } });
    expect(() => createChatModel(noChat)).toThrow(NoChatModelError);
    expect(() => createChatModel(noChat)).toThrow(/no chat model configured: set CHAT_MODEL/);
  });
});
