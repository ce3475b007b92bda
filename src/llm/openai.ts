// Models for any OpenAI-compatible endpoint (OpenAI, OpenRouter, a local server): embeddings
// and chat through `@langchain/openai`, with a timeout, retries with back-off on 429 and
// 5xx (not on other 4xx), and failures turned into ProviderError naming provider and model.
import type { EmbeddingsParams } from '@langchain/core/embeddings';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import type { AnimusConfig } from '../config/index.js';
import { AnimusError, ConfigError, ProviderError } from '../errors/index.js';

/** Provider name used in errors and telemetry for OpenAI-compatible endpoints. */
export const OPENAI_PROVIDER = 'openai';

/** Timeouts and retries for remote models. */
export interface RemoteModelOptions {
  /** Per-request timeout in ms. Default 60000 (chat), 30000 (embeddings). */
  timeoutMs?: number;
  /** Retries after the first attempt, with exponential back-off from ~1 s. Default 3. */
  maxRetries?: number;
  /** Texts per embeddings request. Default 256. */
  batchSize?: number;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; response?: { status?: unknown } };
  if (typeof e.status === 'number') return e.status;
  if (typeof e.response?.status === 'number') return e.response.status;
  return undefined;
}

/** Whether an HTTP status (or a network error without one) is worth retrying. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

/**
 * LangChain's default gives up on a 429 without a retry-after header; animus retries 429
 * and 5xx and network failures, and stops at once on other 4xx and on aborts.
 */
function onFailedAttempt(err: unknown): void {
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; code?: unknown; error?: { code?: unknown } };
    if (e.name === 'AbortError') throw err;
    if (e.code === 'insufficient_quota' || e.error?.code === 'insufficient_quota') throw err;
  }
  if (!isRetryableStatus(statusOf(err))) throw err;
}

/** Converts whatever the client threw into a ProviderError naming provider and model. */
export function toProviderError(
  err: unknown,
  provider: string,
  model: string,
  target: string,
): ProviderError {
  if (err instanceof ProviderError) return err;
  const status = statusOf(err);
  const detail = err instanceof Error ? err.message : String(err);
  const what = status === undefined ? 'request failed' : `HTTP ${status}`;
  return new ProviderError(provider, model, `${what} at ${target}: ${detail}`, {
    retryable: isRetryableStatus(status),
    ...(status === undefined ? {} : { status }),
    cause: err,
  });
}

function apiKeyFor(config: AnimusConfig): string {
  const key = config.openai.apiKey?.reveal();
  if (key !== undefined) return key;
  // Local OpenAI-compatible servers often need no key; the client insists on one.
  if (config.openai.baseUrl !== undefined) return 'not-needed';
  throw new ConfigError(
    'OPENAI_API_KEY',
    'OPENAI_API_KEY: required for the openai provider unless OPENAI_BASE_URL points at a server that needs none (example: OPENAI_API_KEY=sk-...)',
  );
}

function hostOf(config: AnimusConfig): string {
  const base = config.openai.baseUrl ?? 'https://api.openai.com/v1';
  try {
    return new URL(base).host;
  } catch {
    return base;
  }
}

/** `OpenAIEmbeddings` whose failures are ProviderErrors. */
export class AnimusOpenAIEmbeddings extends OpenAIEmbeddings {
  /** Provider name (for telemetry). */
  readonly provider = OPENAI_PROVIDER;
  readonly target: string;

  constructor(fields: ConstructorParameters<typeof OpenAIEmbeddings>[0] & { target: string }) {
    super(fields);
    this.target = fields.target;
  }

  override async embedDocuments(texts: string[]): Promise<number[][]> {
    try {
      return await super.embedDocuments(texts);
    } catch (err) {
      throw toProviderError(err, this.provider, this.model, this.target);
    }
  }

  override async embedQuery(text: string): Promise<number[]> {
    try {
      return await super.embedQuery(text);
    } catch (err) {
      throw toProviderError(err, this.provider, this.model, this.target);
    }
  }
}

/** Embeddings from an OpenAI-compatible endpoint, per `config.embedding` and `config.openai`. */
export function createOpenAIEmbeddings(
  config: AnimusConfig,
  options: RemoteModelOptions = {},
): AnimusOpenAIEmbeddings {
  const params: EmbeddingsParams = { maxRetries: options.maxRetries ?? 3, onFailedAttempt };
  return new AnimusOpenAIEmbeddings({
    ...params,
    model: config.embedding.model,
    dimensions: config.embedding.dimensions,
    apiKey: apiKeyFor(config),
    timeout: options.timeoutMs ?? 30_000,
    batchSize: options.batchSize ?? 256,
    target: hostOf(config),
    configuration: config.openai.baseUrl === undefined ? {} : { baseURL: config.openai.baseUrl },
  });
}

/** `ChatOpenAI` whose failures (invoke, batch, stream) are ProviderErrors. */
export class AnimusChatOpenAI extends ChatOpenAI {
  readonly target: string;

  constructor(fields: ConstructorParameters<typeof ChatOpenAI>[0] & { target: string }) {
    super(fields);
    this.target = fields.target;
  }

  override async _generate(
    ...args: Parameters<ChatOpenAI['_generate']>
  ): ReturnType<ChatOpenAI['_generate']> {
    try {
      return await super._generate(...args);
    } catch (err) {
      throw toProviderError(err, OPENAI_PROVIDER, this.model, this.target);
    }
  }

  override async *_streamResponseChunks(
    ...args: Parameters<ChatOpenAI['_streamResponseChunks']>
  ): ReturnType<ChatOpenAI['_streamResponseChunks']> {
    try {
      yield* super._streamResponseChunks(...args);
    } catch (err) {
      throw toProviderError(err, OPENAI_PROVIDER, this.model, this.target);
    }
  }
}

/** Thrown where a chat model is needed and `CHAT_MODEL` is not set. */
export class NoChatModelError extends AnimusError {
  constructor() {
    super(
      'NO_CHAT_MODEL',
      'no chat model configured: set CHAT_MODEL (and OPENAI_BASE_URL / OPENAI_API_KEY for the endpoint), e.g. CHAT_MODEL=openai/gpt-4o-mini with OPENAI_BASE_URL=https://openrouter.ai/api/v1',
    );
  }
}

/** A chat model on any OpenAI-compatible endpoint, per `config.chatModel` and `config.openai`. */
export function createOpenAIChatModel(
  config: AnimusConfig,
  options: RemoteModelOptions = {},
): AnimusChatOpenAI {
  if (config.chatModel === undefined) throw new NoChatModelError();
  return new AnimusChatOpenAI({
    model: config.chatModel,
    apiKey: apiKeyFor(config),
    timeout: options.timeoutMs ?? 60_000,
    maxRetries: options.maxRetries ?? 3,
    onFailedAttempt,
    target: hostOf(config),
    configuration: config.openai.baseUrl === undefined ? {} : { baseURL: config.openai.baseUrl },
  });
}
