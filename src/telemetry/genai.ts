// GenAI client spans and metrics by the OTel GenAI conventions: one span per chat or
// embeddings call named `{operation} {model}`, plus `gen_ai.client.token.usage` and
// `gen_ai.client.operation.duration`. A span is ended exactly once, by `end` or `fail`;
// every entry point swallows its own failures so the model call is never disturbed.
import { context as otelContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span } from '@opentelemetry/api';
import { animusInstruments, animusTracer, safely } from './instruments.js';
import { CommonAttr, ERROR_TYPE_OTHER, GenAiAttr, GenAiOperation, TokenType } from './names.js';

/** Request parameters recorded as `gen_ai.request.*` when given. */
export interface GenAiRequestParams {
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  topK?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  stopSequences?: string[];
  seed?: number;
  /** Recorded only when not 1, as the conventions ask. */
  choiceCount?: number;
  stream?: boolean;
  encodingFormats?: string[];
}

/** What is known about a GenAI call before it is made. */
export interface GenAiRequest {
  /** `gen_ai.provider.name`, e.g. `openai` or {@link LOCAL_PROVIDER_NAME}. */
  provider: string;
  /** `gen_ai.request.model`. */
  model: string;
  /** `server.address` of the endpoint; omitted for an in-process model. */
  serverAddress?: string;
  /** `server.port`; recorded only together with `serverAddress`. */
  serverPort?: number;
  /** An in-process model: the span kind becomes INTERNAL instead of CLIENT. Default false. */
  local?: boolean;
  params?: GenAiRequestParams;
  /** `gen_ai.embeddings.dimension.count` (embeddings only). */
  dimensions?: number;
}

/** Token counts a provider reported. */
export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
}

/** What is known after a successful call. */
export interface GenAiResult {
  responseModel?: string;
  responseId?: string;
  finishReasons?: string[];
  usage?: TokenUsage;
}

/** A started GenAI span; call `end` or `fail` once. */
export interface GenAiSpan {
  readonly span: Span;
  /** The context with this span active, for running the call inside it. */
  readonly context: Context;
  /** Adds response attributes; may be called more than once before `end`. */
  addResult(result: GenAiResult): void;
  /** Records the result (if any), the metrics, and ends the span with status unset. */
  end(result?: GenAiResult): void;
  /** Records `error.type`, status ERROR and the duration metric, and ends the span. */
  fail(error: unknown): void;
}

/** Attributes that identify a call in the metric streams. */
export interface GenAiMetricAttributes {
  operation: string;
  provider: string;
  requestModel: string;
  responseModel?: string;
  serverAddress?: string;
  serverPort?: number;
}

function metricAttributes(a: GenAiMetricAttributes): Attributes {
  const out: Attributes = {
    [GenAiAttr.operationName]: a.operation,
    [GenAiAttr.providerName]: a.provider,
    [GenAiAttr.requestModel]: a.requestModel,
  };
  if (a.responseModel !== undefined) out[GenAiAttr.responseModel] = a.responseModel;
  if (a.serverAddress !== undefined) {
    out[CommonAttr.serverAddress] = a.serverAddress;
    if (a.serverPort !== undefined) out[CommonAttr.serverPort] = a.serverPort;
  }
  return out;
}

/**
 * Records `gen_ai.client.token.usage` points (one per token type that was reported). Never
 * throws.
 */
export function recordTokenUsage(attributes: GenAiMetricAttributes, usage: TokenUsage): void {
  safely(() => {
    const base = metricAttributes(attributes);
    const histogram = animusInstruments().tokenUsage;
    if (isCount(usage.inputTokens)) {
      histogram.record(usage.inputTokens, { ...base, [GenAiAttr.tokenType]: TokenType.input });
    }
    if (isCount(usage.outputTokens)) {
      histogram.record(usage.outputTokens, { ...base, [GenAiAttr.tokenType]: TokenType.output });
    }
  });
}

/**
 * Records one `gen_ai.client.operation.duration` point in seconds, with `error.type` when
 * the call failed. Never throws.
 */
export function recordOperationDuration(
  attributes: GenAiMetricAttributes,
  seconds: number,
  errorType?: string,
): void {
  safely(() => {
    const attrs = metricAttributes(attributes);
    if (errorType !== undefined) attrs[CommonAttr.errorType] = errorType;
    animusInstruments().operationDuration.record(seconds, attrs);
  });
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * A low-cardinality `error.type` for a failure: the HTTP status a provider returned, else a
 * stable error code (`ECONNREFUSED`, an animus code), else the error class name, else `_OTHER`.
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const e = error as { status?: unknown; code?: unknown; name?: unknown; cause?: unknown };
    if (typeof e.status === 'number' && Number.isInteger(e.status)) return String(e.status);
    if (typeof e.code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(e.code)) return e.code;
    if (typeof e.name === 'string' && e.name !== '' && e.name !== 'Error') return e.name;
    if (e.cause !== undefined && e.cause !== error) {
      const inner = errorTypeOf(e.cause);
      if (inner !== ERROR_TYPE_OTHER) return inner;
    }
  }
  return ERROR_TYPE_OTHER;
}

function requestAttributes(operation: string, req: GenAiRequest): Attributes {
  const attrs: Attributes = {
    [GenAiAttr.operationName]: operation,
    [GenAiAttr.providerName]: req.provider,
    [GenAiAttr.requestModel]: req.model,
  };
  if (req.serverAddress !== undefined) {
    attrs[CommonAttr.serverAddress] = req.serverAddress;
    if (req.serverPort !== undefined) attrs[CommonAttr.serverPort] = req.serverPort;
  }
  if (req.dimensions !== undefined) attrs[GenAiAttr.embeddingsDimensionCount] = req.dimensions;
  const p = req.params;
  if (p !== undefined) {
    const set = (key: string, v: unknown): void => {
      if (typeof v === 'number' && Number.isFinite(v)) attrs[key] = v;
      else if (typeof v === 'boolean') attrs[key] = v;
      else if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) {
        attrs[key] = v as string[];
      }
    };
    set(GenAiAttr.requestTemperature, p.temperature);
    set(GenAiAttr.requestMaxTokens, p.maxTokens);
    set(GenAiAttr.requestTopP, p.topP);
    set(GenAiAttr.requestTopK, p.topK);
    set(GenAiAttr.requestFrequencyPenalty, p.frequencyPenalty);
    set(GenAiAttr.requestPresencePenalty, p.presencePenalty);
    set(GenAiAttr.requestStopSequences, p.stopSequences);
    set(GenAiAttr.requestSeed, p.seed);
    if (p.choiceCount !== undefined && p.choiceCount !== 1) set(GenAiAttr.requestChoiceCount, p.choiceCount);
    set(GenAiAttr.requestStream, p.stream);
    set(GenAiAttr.requestEncodingFormats, p.encodingFormats);
  }
  return attrs;
}

const NOOP_SPAN: GenAiSpan = {
  span: trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }),
  context: otelContext.active(),
  addResult: () => {},
  end: () => {},
  fail: () => {},
};

function startGenAiSpan(operation: string, req: GenAiRequest, parent?: Context): GenAiSpan {
  try {
    const parentContext = parent ?? otelContext.active();
    const span = animusTracer().startSpan(
      `${operation} ${req.model}`,
      {
        kind: req.local === true ? SpanKind.INTERNAL : SpanKind.CLIENT,
        attributes: requestAttributes(operation, req),
      },
      parentContext,
    );
    const started = performance.now();
    const metricAttrs: GenAiMetricAttributes = {
      operation,
      provider: req.provider,
      requestModel: req.model,
    };
    if (req.serverAddress !== undefined) {
      metricAttrs.serverAddress = req.serverAddress;
      if (req.serverPort !== undefined) metricAttrs.serverPort = req.serverPort;
    }
    let usage: TokenUsage = {};
    let ended = false;
    const addResult = (r: GenAiResult): void =>
      safely(() => {
        if (r.responseModel !== undefined) {
          span.setAttribute(GenAiAttr.responseModel, r.responseModel);
          metricAttrs.responseModel = r.responseModel;
        }
        if (r.responseId !== undefined) span.setAttribute(GenAiAttr.responseId, r.responseId);
        if (r.finishReasons !== undefined && r.finishReasons.length > 0) {
          span.setAttribute(GenAiAttr.responseFinishReasons, r.finishReasons);
        }
        if (r.usage !== undefined) usage = sumUsage(usage, r.usage);
      });
    return {
      span,
      context: trace.setSpan(parentContext, span),
      addResult,
      end(result) {
        if (ended) return;
        ended = true;
        if (result !== undefined) addResult(result);
        safely(() => {
          setUsageAttributes(span, usage);
          recordTokenUsage(metricAttrs, usage);
          recordOperationDuration(metricAttrs, (performance.now() - started) / 1000);
          span.end();
        });
      },
      fail(error) {
        if (ended) return;
        ended = true;
        safely(() => {
          const type = errorTypeOf(error);
          span.setAttribute(CommonAttr.errorType, type);
          if (error instanceof Error) span.recordException(error);
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: error instanceof Error ? error.message : String(error),
          });
          recordOperationDuration(metricAttrs, (performance.now() - started) / 1000, type);
          span.end();
        });
      },
    };
  } catch {
    return NOOP_SPAN;
  }
}

function sumUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  const add = (x: number | undefined, y: number | undefined): number | undefined =>
    isCount(y) ? (x ?? 0) + y : x;
  return {
    inputTokens: add(a.inputTokens, b.inputTokens),
    outputTokens: add(a.outputTokens, b.outputTokens),
    cacheReadInputTokens: add(a.cacheReadInputTokens, b.cacheReadInputTokens),
    cacheCreationInputTokens: add(a.cacheCreationInputTokens, b.cacheCreationInputTokens),
  };
}

function setUsageAttributes(span: Span, u: TokenUsage): void {
  if (isCount(u.inputTokens)) span.setAttribute(GenAiAttr.usageInputTokens, u.inputTokens);
  if (isCount(u.outputTokens)) span.setAttribute(GenAiAttr.usageOutputTokens, u.outputTokens);
  if (isCount(u.cacheReadInputTokens)) {
    span.setAttribute(GenAiAttr.usageCacheReadInputTokens, u.cacheReadInputTokens);
  }
  if (isCount(u.cacheCreationInputTokens)) {
    span.setAttribute(GenAiAttr.usageCacheCreationInputTokens, u.cacheCreationInputTokens);
  }
}

/**
 * Starts a `chat {model}` span (kind CLIENT, or INTERNAL for `local`) as a child of `parent`
 * (default: the active context). Never throws; on an internal failure it returns a no-op.
 */
export function startChatSpan(request: GenAiRequest, parent?: Context): GenAiSpan {
  return startGenAiSpan(GenAiOperation.chat, request, parent);
}

/**
 * Starts an `embeddings {model}` span (kind CLIENT, or INTERNAL for `local`) as a child of
 * `parent` (default: the active context). Never throws.
 */
export function startEmbeddingSpan(request: GenAiRequest, parent?: Context): GenAiSpan {
  return startGenAiSpan(GenAiOperation.embeddings, request, parent);
}

/** `server.address` and `server.port` of an endpoint URL (port defaulted from the scheme). */
export function serverOf(url: string | undefined): { serverAddress?: string; serverPort?: number } {
  if (url === undefined) return {};
  try {
    const u = new URL(url);
    const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    return { serverAddress: u.hostname.replace(/^\[|\]$/g, ''), serverPort: port };
  } catch {
    return {};
  }
}
