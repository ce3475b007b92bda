// LangChain models built from animus's config: embeddings (the bundled offline model by
// default, or any OpenAI-compatible endpoint) and chat (OpenAI-compatible). These two
// factories are the single place where models are made, so tracing can wrap them here.
import type { Embeddings } from '@langchain/core/embeddings';
import type { AnimusConfig } from '../config/index.js';
import {
  instrumentChatModel,
  instrumentEmbeddings,
  LOCAL_PROVIDER_NAME,
  OPENAI_PROVIDER_NAME,
  serverOf,
} from '../telemetry/index.js';
import { LocalEmbeddings } from './local-embeddings.js';
import {
  type AnimusChatOpenAI,
  createOpenAIChatModel,
  createOpenAIEmbeddings,
  type RemoteModelOptions,
} from './openai.js';

export {
  LOCAL_DIMENSIONS,
  LOCAL_MODEL,
  LOCAL_PROVIDER,
  LocalEmbeddings,
  loadLocalModel,
} from './local-embeddings.js';
export type { LocalEmbeddingsOptions } from './local-embeddings.js';
export {
  AnimusChatOpenAI,
  AnimusOpenAIEmbeddings,
  isRetryableStatus,
  NoChatModelError,
  OPENAI_PROVIDER,
  toProviderError,
} from './openai.js';
export type { RemoteModelOptions } from './openai.js';

/** Where the OpenAI client sends requests when `OPENAI_BASE_URL` is not set. */
const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/**
 * The configured embeddings: `local` (default) is Universal Sentence Encoder Lite, 512
 * dimensions, offline; `openai` is `OpenAIEmbeddings` with `config.embedding.model`,
 * `.dimensions` and `OPENAI_BASE_URL`. Failures surface as `ProviderError`.
 */
export function createEmbeddings(config: AnimusConfig, options: RemoteModelOptions = {}): Embeddings {
  // Every model returned is traced (GenAI `embeddings {model}` spans and metrics).
  const traced = { model: config.embedding.model, dimensions: config.embedding.dimensions };
  switch (config.embedding.provider) {
    case 'local':
      return instrumentEmbeddings(new LocalEmbeddings(), {
        ...traced,
        provider: LOCAL_PROVIDER_NAME,
        local: true,
      });
    case 'openai':
      return instrumentEmbeddings(createOpenAIEmbeddings(config, options), {
        ...traced,
        provider: OPENAI_PROVIDER_NAME,
        ...serverOf(config.openai.baseUrl ?? OPENAI_DEFAULT_BASE_URL),
      });
  }
}

/**
 * The configured chat model: `ChatOpenAI` for `CHAT_MODEL` on any OpenAI-compatible endpoint
 * (timeout 60 s, 3 retries with back-off on 429/5xx). Throws `NoChatModelError`
 * (code `NO_CHAT_MODEL`) when no chat model is configured.
 */
export function createChatModel(config: AnimusConfig, options: RemoteModelOptions = {}): AnimusChatOpenAI {
  // Traced through a GenAI callback handler (`chat {model}` spans and metrics).
  return instrumentChatModel(createOpenAIChatModel(config, options), {
    provider: OPENAI_PROVIDER_NAME,
    ...serverOf(config.openai.baseUrl ?? OPENAI_DEFAULT_BASE_URL),
  });
}
