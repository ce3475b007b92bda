// Traces LangChain embeddings, which emit no callbacks: a wrapper whose `embedDocuments` and
// `embedQuery` each run inside an `embeddings {model}` span. For OpenAI-compatible clients
// the raw responses are observed too, so the span carries the token usage and response model
// the provider reported. The wrapper returns exactly what the wrapped model returns.
import { context as otelContext, createContextKey } from '@opentelemetry/api';
import { Embeddings } from '@langchain/core/embeddings';
import { startEmbeddingSpan } from './genai.js';
import type { GenAiRequest, GenAiResult } from './genai.js';
import { safely } from './instruments.js';

/** Options of {@link instrumentEmbeddings}. */
export interface InstrumentEmbeddingsOptions {
  /** `gen_ai.provider.name`, e.g. `openai` or `LOCAL_PROVIDER_NAME`. */
  provider: string;
  /** `gen_ai.request.model`. */
  model: string;
  /** `gen_ai.embeddings.dimension.count`. */
  dimensions?: number;
  /** `server.address` of the endpoint (see `serverOf(baseUrl)`); omit for a local model. */
  serverAddress?: string;
  serverPort?: number;
  /** An in-process model: span kind INTERNAL. Default false. */
  local?: boolean;
}

type UsageSink = (result: GenAiResult) => void;
const USAGE_SINK = createContextKey('animus.embeddings.usage');
const OBSERVED = Symbol.for('animus.telemetry.embeddingsObserved');

interface RawEmbeddingResponse {
  model?: unknown;
  usage?: { prompt_tokens?: unknown; total_tokens?: unknown };
}

/**
 * OpenAI-compatible LangChain embeddings call `embeddingWithRetry(request)` per batch and get
 * the provider's raw response back; observe it (once per instance) to read usage.
 */
function observeRawResponses(inner: object): void {
  const target = inner as { embeddingWithRetry?: unknown; [OBSERVED]?: boolean };
  if (typeof target.embeddingWithRetry !== 'function' || target[OBSERVED] === true) return;
  const original = target.embeddingWithRetry as (this: unknown, ...args: unknown[]) => Promise<unknown>;
  target.embeddingWithRetry = async function observed(this: unknown, ...args: unknown[]): Promise<unknown> {
    const response = await original.apply(this, args);
    safely(() => {
      const sink = otelContext.active().getValue(USAGE_SINK) as UsageSink | undefined;
      const raw = response as RawEmbeddingResponse | undefined;
      if (sink === undefined || raw === undefined) return;
      const result: GenAiResult = {};
      if (typeof raw.model === 'string') result.responseModel = raw.model;
      const tokens = raw.usage?.prompt_tokens ?? raw.usage?.total_tokens;
      if (typeof tokens === 'number') result.usage = { inputTokens: tokens };
      sink(result);
    });
    return response;
  };
  target[OBSERVED] = true;
}

/** Embeddings traced as GenAI spans; delegates every call to `inner`. */
export class InstrumentedEmbeddings extends Embeddings {
  /** The wrapped embeddings model. */
  readonly inner: Embeddings;
  readonly #request: GenAiRequest;

  constructor(inner: Embeddings, options: InstrumentEmbeddingsOptions) {
    super({});
    this.inner = inner;
    const request: GenAiRequest = {
      provider: options.provider,
      model: options.model,
      local: options.local ?? false,
    };
    if (options.dimensions !== undefined) request.dimensions = options.dimensions;
    if (options.serverAddress !== undefined) {
      request.serverAddress = options.serverAddress;
      if (options.serverPort !== undefined) request.serverPort = options.serverPort;
    }
    this.#request = request;
    safely(() => observeRawResponses(inner));
  }

  override embedDocuments(documents: string[]): Promise<number[][]> {
    return this.#traced(() => this.inner.embedDocuments(documents));
  }

  override embedQuery(document: string): Promise<number[]> {
    return this.#traced(() => this.inner.embedQuery(document));
  }

  async #traced<T>(call: () => Promise<T>): Promise<T> {
    const span = startEmbeddingSpan(this.#request);
    const sink: UsageSink = (r) => span.addResult(r);
    let value: T;
    try {
      value = await otelContext.with(span.context.setValue(USAGE_SINK, sink), call);
    } catch (error) {
      span.fail(error);
      throw error;
    }
    span.end();
    return value;
  }
}

/**
 * Wraps LangChain `Embeddings` so each `embedDocuments`/`embedQuery` call yields an
 * `embeddings {model}` span (kind CLIENT, INTERNAL when `local`) with
 * `gen_ai.embeddings.dimension.count`, input tokens and response model when the provider
 * reports them, the `gen_ai.client.*` metrics, and `error.type` on failure.
 */
export function instrumentEmbeddings(
  embeddings: Embeddings,
  options: InstrumentEmbeddingsOptions,
): InstrumentedEmbeddings {
  return new InstrumentedEmbeddings(embeddings, options);
}
