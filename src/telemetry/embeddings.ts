// Traces LangChain embeddings, which emit no callbacks: `embedDocuments` and `embedQuery` of
// the given instance run inside an `embeddings {model}` span. The instance is instrumented in
// place, so its class, fields and `instanceof` checks are unchanged; a second call is a no-op.
// For OpenAI-compatible clients the raw responses are observed too, so the span carries the
// token usage and response model the provider reported. Results and errors pass through.
import { context as otelContext, createContextKey } from '@opentelemetry/api';
import type { Embeddings } from '@langchain/core/embeddings';
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
const ACTIVE_MODEL = createContextKey('animus.embeddings.active');
const INSTRUMENTED = Symbol.for('animus.telemetry.embeddingsInstrumented');

interface RawEmbeddingResponse {
  model?: unknown;
  usage?: { prompt_tokens?: unknown; total_tokens?: unknown };
}

type Method = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/**
 * OpenAI-compatible LangChain embeddings call `embeddingWithRetry(request)` per batch and get
 * the provider's raw response back; observe it to read usage and the response model.
 */
function observeRawResponses(target: Record<string | symbol, unknown>): void {
  if (typeof target.embeddingWithRetry !== 'function') return;
  const original = target.embeddingWithRetry as Method;
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
}

/**
 * Instruments LangChain `Embeddings` in place and returns the same instance: each
 * `embedDocuments`/`embedQuery` call yields an `embeddings {model}` span (kind CLIENT, or
 * INTERNAL when `local`) with `gen_ai.embeddings.dimension.count`, input tokens and response
 * model when the provider reports them, the `gen_ai.client.*` metrics, and `error.type` on
 * failure. A call made from inside another traced call of the same instance (e.g. `embedQuery`
 * implemented through `embedDocuments`) is not traced twice.
 */
export function instrumentEmbeddings<E extends Embeddings>(
  embeddings: E,
  options: InstrumentEmbeddingsOptions,
): E {
  const target = embeddings as unknown as Record<string | symbol, unknown>;
  if (target[INSTRUMENTED] === true) return embeddings;
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

  const traced = async (call: () => Promise<unknown>): Promise<unknown> => {
    if (otelContext.active().getValue(ACTIVE_MODEL) === embeddings) return call();
    const span = startEmbeddingSpan(request);
    const sink: UsageSink = (r) => span.addResult(r);
    const ctx = span.context.setValue(USAGE_SINK, sink).setValue(ACTIVE_MODEL, embeddings);
    let value: unknown;
    try {
      value = await otelContext.with(ctx, call);
    } catch (error) {
      span.fail(error);
      throw error;
    }
    span.end();
    return value;
  };

  try {
    const embedDocuments = (target.embedDocuments as Method).bind(embeddings);
    const embedQuery = (target.embedQuery as Method).bind(embeddings);
    target.embedDocuments = (documents: string[]) => traced(() => embedDocuments(documents));
    target.embedQuery = (document: string) => traced(() => embedQuery(document));
    observeRawResponses(target);
    target[INSTRUMENTED] = true;
  } catch {
    // Frozen or exotic objects stay untraced rather than failing model creation.
  }
  return embeddings;
}
