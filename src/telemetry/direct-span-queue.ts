// The batch queue of direct work spans (direct-spans.ts, attempt-span.ts) in front of the export
// thread: ended spans wait as they are and are encoded to OTLP/protobuf together
// when their batch leaves, off the work path (a full batch at the next turn of the event loop,
// after the work that ended it; the rest after the schedule delay), so the span's end costs a
// push; the bytes of encoded spans wait for a send in progress. Batching follows the SDK's
// BatchSpanProcessor with the same settings: a batch leaves when it is full or after the
// schedule delay, one export at a time, sampled spans only, spans beyond the queue size dropped
// (and reported as the SDK reports them); flush and shutdown send everything. Besides, a batch
// is held under a number of bytes (`maxExportBytes`), the rest leaving right after. With a record
// sender that is ready, lazy attempts are not encoded here: each is written as a record
// (attempt-record.ts) at the end of the turn it ended in, unless other spans wait to be encoded
// before it, and the export thread encodes its batch, in order with the spans encoded here.
// Never throws into the work path.
import { diag, TraceFlags } from '@opentelemetry/api';
import { globalErrorHandler } from '@opentelemetry/core';
import { RecordBuffer } from './attempt-record.js';
import type { RecordBatch, RecordTable } from './attempt-record.js';
import type { DirectSpanEncoder, EncodableSpan } from './direct-span-encoder.js';

/** The batch processor's settings (`OTEL_BSP_*`), and a limit on a request's bytes. */
export interface DirectSpanQueueOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  /**
   * Bytes of spans past which a batch leaves with fewer than `maxExportBatchSize` spans (at
   * least one): spans encoded here count their bytes, records {@link RECORD_BYTES} each.
   * Unlimited when not given.
   */
  maxExportBytes?: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

/**
 * What a record (a lazy attempt encoded on the export thread) counts for towards
 * `maxExportBytes`: its span is about 630 bytes, more only with a long work type or queue name.
 */
export const RECORD_BYTES = 1024;

/** Sends one request of encoded spans; `done` gets an error when it failed. */
export type SendEncoded = (
  bytes: Uint8Array<ArrayBuffer>,
  count: number,
  done: (error?: Error) => void,
) => void;

/** Hands batches with records to the export thread (`ThreadedSpanExporter.records`). */
export interface RecordSender {
  /** Names the shared parts of records; its definitions go with the next batch sent. */
  readonly table: RecordTable;
  /** Whether the thread can encode records now (until then, everything is encoded here). */
  isReady(): boolean;
  /** Sends one batch; `done` gets an error when it failed. */
  send(batch: RecordBatch, done: (error?: Error) => void): void;
  /**
   * Where a batch's `n` bytes of records go, when the sender has room for them that it hands
   * the thread without a transfer (shared memory, free again once the batch has been sent);
   * without it, each batch's records are copied into an ArrayBuffer of their own.
   */
  slot?(n: number): Uint8Array;
}

/** A span that can also leave as a record (a lazy attempt): false when it cannot. */
interface RecordableSpan extends EncodableSpan {
  writeRecord?(out: RecordBuffer, table: RecordTable): boolean;
}

/** A span the queue takes: encodable, with its trace flags. */
export interface QueueableSpan extends EncodableSpan {
  spanContext(): { traceFlags: number };
}

interface PendingResource {
  asyncAttributesPending?: boolean;
  waitForAsyncAttributes?: () => Promise<void>;
}

/** Encoded spans waiting to be sent, in batches, under one resource and scope at a time. */
export class DirectSpanQueue {
  readonly #encoder: DirectSpanEncoder;
  readonly #send: SendEncoded;
  readonly #o: DirectSpanQueueOptions;
  /**
   * The waiting spans' entries, one after another, in `bytes[head, length)`, and where each one
   * ends (`ends[first…places)`, offsets into `bytes`). The index arrays keep their room when
   * the queue empties (only `places` starts over): no new arrays to grow batch after batch.
   */
  #bytes: Buffer = Buffer.allocUnsafe(64 * 1024);
  #head = 0;
  #length = 0;
  readonly #ends: number[] = [];
  #first = 0;
  /** Places in use in `ends` and `recordEnds`. */
  #places = 0;
  /**
   * Records of waiting spans that left as records (their entries in `bytes` are empty), in
   * `records` from byte `recordHead` on; `recordEnds` is where each waiting span's record ends,
   * beside `ends`. A lazy attempt that ends while no other span waits to be encoded is written
   * at once: nothing of it stays on the heap while its batch gathers.
   */
  readonly #records = new RecordBuffer();
  #recordHead = 0;
  readonly #recordEnds: number[] = [];
  readonly #recordSender: RecordSender | undefined;
  #resource: unknown;
  #scope: EncodableSpan['instrumentationScope'] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #exporting = false;
  /** Whether the last batch to leave was cut short by `maxExportBytes` (the rest leaves next). */
  #cutShort = false;
  #dropped = 0;
  #shutdown = false;
  /**
   * Ended spans not encoded yet. They are encoded when a batch leaves: at the turn of the event
   * loop after a full batch gathered (so that the work that ended them settles first), when the
   * schedule delay runs out, or on a flush — once per batch, not once per span.
   */
  #ended: EncodableSpan[] = [];
  #encodeScheduled = false;
  /**
   * Whether `#writeRecords` runs at the end of this turn: lazy attempts that ended in it are
   * written as records then, not as each ends. The work that ended them (a worker's dispatch of
   * a read) goes on meanwhile to its next step (the next read, sent before the turn ends), and
   * the records are written while that waits for the database instead of before it is sent.
   */
  #recordsScheduled = false;

  constructor(
    encoder: DirectSpanEncoder,
    send: SendEncoded,
    options: DirectSpanQueueOptions,
    records?: RecordSender,
  ) {
    this.#encoder = encoder;
    this.#send = send;
    this.#recordSender = records;
    const maxQueueSize = Math.max(1, options.maxQueueSize);
    let maxExportBatchSize = Math.max(1, options.maxExportBatchSize);
    if (maxExportBatchSize > maxQueueSize) maxExportBatchSize = maxQueueSize;
    this.#o = { ...options, maxQueueSize, maxExportBatchSize };
  }

  /** Spans waiting. */
  get size(): number {
    return this.#places - this.#first + this.#ended.length;
  }

  /** Spans encoded and waiting to be sent. */
  get #encoded(): number {
    return this.#places - this.#first;
  }

  /** Takes an ended span (encoded when its batch leaves; unsampled spans are left out, as the SDK leaves them). */
  add(span: QueueableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    this.addSampled(span);
  }

  /** Takes an ended span known to be sampled (a lazily recorded attempt: attempt-span.ts). */
  addSampled(span: EncodableSpan): void {
    if (this.#shutdown) return;
    try {
      if (this.size >= this.#o.maxQueueSize) {
        if (this.#dropped === 0) diag.debug('maxQueueSize reached, dropping spans');
        this.#dropped++;
        return;
      }
      if (this.#dropped > 0) {
        diag.warn(`Dropped ${String(this.#dropped)} spans because maxQueueSize reached`);
        this.#dropped = 0;
      }
      this.#ended.push(span);
      // A lazy attempt is written as a record at the end of the turn (see `#recordsScheduled`).
      if (
        !this.#recordsScheduled &&
        (span as RecordableSpan).writeRecord !== undefined &&
        this.#recordSender?.isReady() === true
      ) {
        this.#recordsScheduled = true;
        setImmediate(this.#writeRecords);
      }
      this.#maybeStart();
    } catch (error) {
      diag.error('direct span queue: could not take a span', error);
    }
  }

  /**
   * The end of a turn in which lazy attempts ended: the ended spans are written as records, from
   * the first on, up to one that cannot be a record (it and those after it wait to be encoded
   * with their batch, in order).
   */
  readonly #writeRecords = (): void => {
    this.#recordsScheduled = false;
    const sender = this.#recordSender;
    const ended = this.#ended;
    if (sender?.isReady() !== true || ended.length === 0) return;
    let written = 0;
    try {
      while (written < ended.length && this.#addRecord(ended[written]!, sender)) written++;
    } catch (error) {
      diag.error('direct span queue: could not write a record', error);
    }
    if (written === ended.length) this.#ended = [];
    else if (written > 0) ended.splice(0, written);
    this.#maybeStart();
  };

  /** The turn after a full batch gathered: its spans are encoded and it leaves. */
  readonly #encodeEnded = (): void => {
    this.#encodeScheduled = false;
    this.#encodePending();
    this.#maybeStart();
  };

  /** Encodes the ended spans into the waiting bytes. */
  #encodePending(): void {
    const ended = this.#ended;
    if (ended.length === 0) return;
    this.#ended = [];
    const sender = this.#recordSender?.isReady() === true ? this.#recordSender : undefined;
    for (const span of ended) {
      try {
        if (!this.#addRecord(span, sender)) {
          this.#sameSource(span);
          // Encoded first: a span that does not fit replaces the encoder's work buffer.
          const length = this.#encoder.encodeSpanInPlace(span);
          this.#append(this.#encoder.workBuffer, length);
          this.#placed(span);
        }
      } catch (error) {
        diag.error('direct span queue: could not encode a span', error);
      }
    }
  }

  /** Adds `span` to the waiting ones as a record; false, with nothing added, when it cannot be one. */
  #addRecord(span: RecordableSpan, sender: RecordSender | undefined): boolean {
    if (sender === undefined || span.writeRecord === undefined) return false;
    this.#sameSource(span);
    if (!span.writeRecord(this.#records, sender.table)) return false;
    this.#placed(span);
    return true;
  }

  /**
   * Before a span of another resource or scope than the waiting ones (not animus's own setup):
   * the waiting ones go first, as a request of their own.
   */
  #sameSource(span: EncodableSpan): void {
    if (this.#encoded > 0 && (span.resource !== this.#resource || span.instrumentationScope !== this.#scope))
      this.#flushAll().catch(globalErrorHandler);
  }

  /** Marks where the span just written (as an entry or a record) ends. */
  #placed(span: EncodableSpan): void {
    this.#resource = span.resource;
    this.#scope = span.instrumentationScope;
    const at = this.#places++;
    this.#ends[at] = this.#length;
    this.#recordEnds[at] = this.#records.length;
  }

  /** Sends every waiting span; resolves once the exports have been handed over. */
  forceFlush(): Promise<void> {
    return this.#flushAll();
  }

  /** Sends what waits and takes no more spans. */
  shutdown(): Promise<void> {
    this.#shutdown = true;
    return this.#flushAll();
  }

  /** Appends `source[0, n)`. */
  #append(source: Buffer, n: number): void {
    if (this.#length + n > this.#bytes.length) {
      // Sent entries are dropped from the front first; the buffer grows only if still short.
      const head = this.#head;
      const waiting = this.#length - head;
      const target =
        waiting + n > this.#bytes.length
          ? Buffer.allocUnsafe(Math.max(waiting + n, this.#bytes.length * 2))
          : this.#bytes;
      this.#bytes.copy(target, 0, head, this.#length);
      this.#bytes = target;
      this.#head = 0;
      this.#length = waiting;
      this.#compact();
      const ends = this.#ends;
      for (let i = 0; i < this.#places; i++) ends[i]! -= head;
    }
    source.copy(this.#bytes, this.#length, 0, n);
    this.#length += n;
  }

  #flushAll(): Promise<void> {
    this.#encodePending();
    const sends: Array<Promise<void>> = [];
    // Each #flushOne takes its batch off the queue at once, so this ends.
    while (this.#encoded > 0) sends.push(this.#flushOne());
    return Promise.all(sends).then(() => undefined);
  }

  /** Sends the first batch of waiting spans. */
  #flushOne(): Promise<void> {
    this.#clearTimer();
    this.#encodePending();
    const first = this.#first;
    const count = this.#batchCount(first, Math.min(this.#encoded, this.#o.maxExportBatchSize));
    if (count === 0) return Promise.resolve();
    const last = first + count - 1;
    const start = this.#head;
    const end = this.#ends[last]!;
    const recordEnd = this.#recordEnds[last]!;
    const resource = this.#resource;
    const scope = this.#scope!;
    // A resource still waiting for asynchronous attributes is written once they are in, as the
    // SDK waits for them (its own detectors are synchronous: normally written at once).
    const pending = resource as PendingResource;
    const waiting =
      pending.asyncAttributesPending === true && typeof pending.waitForAsyncAttributes === 'function';
    let request: Uint8Array<ArrayBuffer> | undefined;
    let entries: Buffer | undefined;
    let batch: RecordBatch | undefined;
    try {
      if (recordEnd > this.#recordHead) {
        // Records among them: the export thread encodes the batch (entries made here copied).
        // Into the sender's shared memory when it has some (no new buffer to transfer per batch:
        // a transfer detaches the buffer, which waited for the collector's sweeping of array
        // buffers, up to milliseconds on a large heap).
        const n = recordEnd - this.#recordHead;
        const records = this.#records.copyInto(
          this.#recordSender?.slot?.(n) ?? new Uint8Array(n),
          this.#recordHead,
          recordEnd,
        );
        let layout: number[] | undefined;
        // Entries made here among them too (a batch of records alone has none).
        if (end > start) {
          layout = new Array<number>(count);
          for (let i = 0, from = start; i < count; i++) {
            const to = this.#ends[first + i]!;
            layout[i] = to - from;
            from = to;
          }
        }
        const bytes = layout === undefined ? undefined : new Uint8Array(this.#bytes.subarray(start, end));
        batch = { resource, scope, bytes, layout, records, count };
      } else if (waiting) entries = Buffer.from(this.#bytes.subarray(start, end));
      else request = this.#encoder.wrap(resource, scope, this.#bytes.subarray(start, end));
    } finally {
      this.#first += count;
      this.#head = end;
      this.#recordHead = recordEnd;
      if (this.#first === this.#places) {
        // Nothing waits: the buffer starts over.
        this.#places = 0;
        this.#records.clear();
        this.#first = 0;
        this.#head = 0;
        this.#recordHead = 0;
        this.#length = 0;
      } else if (this.#first >= 4096) this.#compact();
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Timeout')), this.#o.exportTimeoutMillis);
      timer.unref();
      const done = (error?: Error) => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      const send = (bytes: Uint8Array<ArrayBuffer>) => this.#send(bytes, count, done);
      if (request !== undefined) send(request);
      else if (batch !== undefined && !waiting) this.#recordSender!.send(batch, done);
      else
        pending.waitForAsyncAttributes!().then(() => {
          if (batch !== undefined) this.#recordSender!.send(batch, done);
          else send(this.#encoder.wrap(resource, scope, entries!));
        }, reject);
    });
  }

  /**
   * How many of the `count` spans from `first` on go into one request: all of them, or as many
   * as fit in `maxExportBytes` (at least one). Sets `#cutShort` when they did not all fit.
   */
  #batchCount(first: number, count: number): number {
    this.#cutShort = false;
    const limit = this.#o.maxExportBytes;
    if (limit === undefined || count === 0) return count;
    let bytes = 0;
    let from = this.#head;
    let recordFrom = this.#recordHead;
    for (let i = 0; i < count; i++) {
      const to = this.#ends[first + i]!;
      const recordTo = this.#recordEnds[first + i]!;
      bytes += to - from + (recordTo > recordFrom ? RECORD_BYTES : 0);
      if (bytes > limit && i > 0) {
        this.#cutShort = true;
        return i;
      }
      from = to;
      recordFrom = recordTo;
    }
    return count;
  }

  /**
   * Drops the sent spans' places from the front of the index arrays and the records (under a
   * steady load the queue may never be empty, when they would start over; `#append` does it
   * when it moves the waiting bytes to the front).
   */
  #compact(): void {
    const first = this.#first;
    const places = this.#places - first;
    this.#ends.copyWithin(0, first, this.#places);
    const recordHead = this.#recordHead;
    const recordEnds = this.#recordEnds;
    recordEnds.copyWithin(0, first, this.#places);
    if (recordHead > 0) {
      for (let i = 0; i < places; i++) recordEnds[i]! -= recordHead;
      this.#records.dropFront(recordHead);
      this.#recordHead = 0;
    }
    this.#places = places;
    this.#first = 0;
  }

  #maybeStart(): void {
    if (this.#exporting) return;
    if (this.size >= this.#o.maxExportBatchSize) {
      if (this.#ended.length === 0) this.#export();
      else if (!this.#encodeScheduled) {
        this.#encodeScheduled = true;
        setImmediate(this.#encodeEnded);
      }
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#export(), this.#o.scheduledDelayMillis);
    this.#timer.unref();
  }

  /** One batch out; then, while spans wait, the next (full ones at once, else on the timer). */
  #export(): void {
    this.#exporting = true;
    this.#flushOne()
      .catch(globalErrorHandler)
      .finally(() => {
        this.#exporting = false;
        if (this.size === 0) return;
        this.#clearTimer();
        // A full batch waiting when an export ends leaves now, as in the SDK's processor (this
        // is the export's callback, not the work path: its spans are encoded here), and so does
        // the rest of a batch that was cut short by its bytes.
        if (this.size >= this.#o.maxExportBatchSize || this.#cutShort) this.#export();
        else this.#maybeStart();
      });
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
