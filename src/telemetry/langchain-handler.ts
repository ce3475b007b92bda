// A LangChain callback handler that turns every chat-model run into a GenAI `chat {model}`
// span with usage metrics. It is awaited (not backgrounded) so the span's parent is the
// caller's active context, and it never raises: a telemetry fault cannot fail a model call.
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { BaseMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import type { Serialized } from '@langchain/core/load/serializable';
import { startChatSpan } from './genai.js';
import type { GenAiRequestParams, GenAiResult, GenAiSpan, TokenUsage } from './genai.js';
import { safely } from './instruments.js';
import { GenAiAttr, OPENAI_PROVIDER_NAME } from './names.js';
import { contentCaptureEnabled } from './settings.js';

/** Options of {@link GenAiCallbackHandler}. */
export interface GenAiCallbackHandlerOptions {
  /** `gen_ai.provider.name`. Default: LangChain's `ls_provider` metadata, else `openai`. */
  provider?: string;
  /** Model name when the run does not report one. */
  model?: string;
  /** `server.address` of the endpoint (see `serverOf(baseUrl)`). */
  serverAddress?: string;
  /** `server.port` of the endpoint. */
  serverPort?: number;
  /** In-process model: span kind INTERNAL. Default false. */
  local?: boolean;
  /** Record prompts and completions. Default: the process setting (`setContentCapture`). */
  captureContent?: boolean;
}

type Dict = Record<string, unknown>;

interface Run {
  span: GenAiSpan;
  capture: boolean;
  started: number;
  /** Whether a streamed token arrived (LangChain's invocation params do not say). */
  streamed: boolean;
}

/** Open chat runs one handler tracks at most (a run whose end never comes is dropped). */
const MAX_OPEN_RUNS = 10_000;

function asDict(v: unknown): Dict | undefined {
  return typeof v === 'object' && v !== null ? (v as Dict) : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function paramsOf(invocation: Dict | undefined, metadata: Dict | undefined): GenAiRequestParams {
  const i = invocation ?? {};
  const m = metadata ?? {};
  const stop = i.stop;
  const params: GenAiRequestParams = {};
  const t = num(i.temperature) ?? num(m.ls_temperature);
  if (t !== undefined) params.temperature = t;
  const maxTokens = num(i.max_tokens) ?? num(i.max_completion_tokens) ?? num(m.ls_max_tokens);
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  const topP = num(i.top_p);
  if (topP !== undefined) params.topP = topP;
  const fp = num(i.frequency_penalty);
  if (fp !== undefined) params.frequencyPenalty = fp;
  const pp = num(i.presence_penalty);
  if (pp !== undefined) params.presencePenalty = pp;
  const seed = num(i.seed);
  if (seed !== undefined) params.seed = seed;
  const n = num(i.n);
  if (n !== undefined) params.choiceCount = n;
  if (typeof stop === 'string') params.stopSequences = [stop];
  else if (Array.isArray(stop)) params.stopSequences = stop.filter((s): s is string => typeof s === 'string');
  return params;
}

const ROLES: Record<string, string> = {
  human: 'user',
  ai: 'assistant',
  system: 'system',
  tool: 'tool',
  function: 'tool',
  developer: 'system',
};

function roleOf(message: BaseMessage): string {
  const type = (message as unknown as { type?: unknown }).type ?? message.getType();
  return ROLES[String(type)] ?? String(type);
}

function textParts(content: unknown): Array<{ type: 'text'; content: string }> {
  if (typeof content === 'string') return [{ type: 'text', content }];
  if (Array.isArray(content)) {
    return content.flatMap((part) => {
      const p = asDict(part);
      return p !== undefined && typeof p.text === 'string'
        ? [{ type: 'text' as const, content: p.text }]
        : [];
    });
  }
  return [];
}

function resultOf(output: LLMResult): { result: GenAiResult; outputMessages: unknown[] } {
  const finishReasons: string[] = [];
  const outputMessages: unknown[] = [];
  const usage: TokenUsage = {};
  let responseModel: string | undefined;
  let responseId: string | undefined;
  for (const generation of output.generations.flat()) {
    const info = asDict(generation.generationInfo);
    const message = asDict((generation as { message?: unknown }).message);
    const meta = asDict(message?.response_metadata);
    const reason = str(info?.finish_reason) ?? str(meta?.finish_reason);
    if (reason !== undefined) finishReasons.push(reason);
    responseModel ??= str(meta?.model_name) ?? str(meta?.model);
    responseId ??= str(message?.id) ?? str(meta?.id);
    const u = asDict(message?.usage_metadata);
    if (u !== undefined) {
      usage.inputTokens = (usage.inputTokens ?? 0) + (num(u.input_tokens) ?? 0);
      usage.outputTokens = (usage.outputTokens ?? 0) + (num(u.output_tokens) ?? 0);
      const details = asDict(u.input_token_details);
      const read = num(details?.cache_read);
      if (read !== undefined) usage.cacheReadInputTokens = (usage.cacheReadInputTokens ?? 0) + read;
      const created = num(details?.cache_creation);
      if (created !== undefined) {
        usage.cacheCreationInputTokens = (usage.cacheCreationInputTokens ?? 0) + created;
      }
    }
    const entry: Dict = { role: 'assistant', parts: textParts(message?.content ?? generation.text) };
    if (reason !== undefined) entry.finish_reason = reason;
    outputMessages.push(entry);
  }
  // Providers that report usage only in llmOutput (older LangChain paths).
  const llmUsage = asDict(asDict(output.llmOutput)?.tokenUsage);
  if (usage.inputTokens === undefined && llmUsage !== undefined) {
    const p = num(llmUsage.promptTokens);
    const c = num(llmUsage.completionTokens);
    if (p !== undefined) usage.inputTokens = p;
    if (c !== undefined) usage.outputTokens = c;
  }
  const result: GenAiResult = { finishReasons, usage };
  if (responseModel !== undefined) result.responseModel = responseModel;
  if (responseId !== undefined) result.responseId = responseId;
  return { result, outputMessages };
}

/**
 * Traces LangChain chat-model runs as GenAI `chat {model}` spans (kind CLIENT) with request
 * parameters, response model/id/finish reasons, token usage (cache read/creation included
 * when reported), `gen_ai.client.*` metrics, and `error.type` on failure. Attach it with
 * `model.withConfig({ callbacks: [handler] })` or the model's `callbacks` option. Prompt and
 * completion text are recorded only when content capture is on.
 */
export class GenAiCallbackHandler extends BaseCallbackHandler {
  name = 'animus_genai_telemetry';
  readonly #options: GenAiCallbackHandlerOptions;
  readonly #runs = new Map<string, Run>();

  constructor(options: GenAiCallbackHandlerOptions = {}) {
    super({ _awaitHandler: true, raiseError: false });
    this.#options = options;
  }

  override handleChatModelStart(
    _llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    safely(() => {
      const invocation = asDict(extraParams?.invocation_params);
      const o = this.#options;
      const model =
        str(invocation?.model) ?? str(invocation?.model_name) ?? str(metadata?.ls_model_name) ?? o.model;
      const span = startChatSpan({
        provider: o.provider ?? str(metadata?.ls_provider) ?? OPENAI_PROVIDER_NAME,
        model: model ?? 'unknown',
        ...(o.serverAddress !== undefined ? { serverAddress: o.serverAddress } : {}),
        ...(o.serverPort !== undefined ? { serverPort: o.serverPort } : {}),
        local: o.local ?? false,
        params: paramsOf(invocation, metadata),
      });
      const capture = o.captureContent ?? contentCaptureEnabled();
      if (capture) {
        const input = (messages[0] ?? []).map((m) => ({ role: roleOf(m), parts: textParts(m.content) }));
        span.span.setAttribute(GenAiAttr.inputMessages, JSON.stringify(input));
      }
      if (this.#runs.size >= MAX_OPEN_RUNS) {
        // A run whose end never arrived: give up on the oldest rather than grow without bound.
        const [oldest] = this.#runs.keys();
        if (oldest !== undefined) {
          this.#runs.get(oldest)?.span.fail(new Error('chat run never ended'));
          this.#runs.delete(oldest);
        }
      }
      this.#runs.set(runId, { span, capture, started: performance.now(), streamed: false });
    });
  }

  override handleLLMNewToken(_token: string, _idx: unknown, runId: string): void {
    const run = this.#runs.get(runId);
    if (run === undefined || run.streamed) return;
    run.streamed = true;
    safely(() =>
      run.span.span.setAttribute(
        GenAiAttr.responseTimeToFirstChunk,
        (performance.now() - run.started) / 1000,
      ),
    );
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    const run = this.#runs.get(runId);
    if (run === undefined) return;
    this.#runs.delete(runId);
    safely(() => {
      run.span.span.setAttribute(GenAiAttr.requestStream, run.streamed);
      const { result, outputMessages } = resultOf(output);
      if (run.capture) run.span.span.setAttribute(GenAiAttr.outputMessages, JSON.stringify(outputMessages));
      run.span.end(result);
    });
  }

  override handleLLMError(error: unknown, runId: string): void {
    const run = this.#runs.get(runId);
    if (run === undefined) return;
    this.#runs.delete(runId);
    safely(() => run.span.span.setAttribute(GenAiAttr.requestStream, run.streamed));
    run.span.fail(error);
  }
}

/** The part of a LangChain chat model {@link instrumentChatModel} touches. */
export interface ChatModelLike {
  callbacks?: unknown;
}

/**
 * Attaches a {@link GenAiCallbackHandler} to a LangChain chat model in place (appended to its
 * `callbacks`) and returns the same model. A model that already has one is left as it is.
 */
export function instrumentChatModel<M extends ChatModelLike>(
  model: M,
  options: GenAiCallbackHandlerOptions = {},
): M {
  safely(() => {
    const current = model.callbacks;
    const handler = new GenAiCallbackHandler(options);
    if (current === undefined || current === null) {
      model.callbacks = [handler];
    } else if (Array.isArray(current)) {
      if (!current.some((h) => h instanceof GenAiCallbackHandler)) model.callbacks = [...current, handler];
    } else {
      const manager = current as {
        handlers?: unknown[];
        addHandler?: (h: unknown, inherit?: boolean) => void;
      };
      if (!(manager.handlers ?? []).some((h) => h instanceof GenAiCallbackHandler))
        manager.addHandler?.(handler, true);
    }
  });
  return model;
}
