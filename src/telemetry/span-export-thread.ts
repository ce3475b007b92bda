// A SpanExporter that encodes and sends spans on a worker thread: the batch processor hands it
// finished spans, it copies each into a flat array (posting those costs about a third of OTLP
// encoding them) and posts the batch; the thread rebuilds the spans and runs the real OTLP
// exporter on them. A batch counts as exported once the thread's exporter has encoded it and
// started sending, so the next batch need not wait for the HTTP round trip; forceFlush and
// shutdown wait until everything has been sent. Given the record module (attempt-record.ts), the
// thread also encodes batches of lazy attempts from their records (`records`), once it has
// loaded that module and said so. Never throws.
import { Worker } from 'node:worker_threads';
import { diag } from '@opentelemetry/api';
import type { Attributes, Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { RecordTable } from './attempt-record.js';
import type { RecordBatch } from './attempt-record.js';
import type { DirectSpanQueue, RecordSender } from './direct-span-queue.js';
import { DirectSpan } from './direct-spans.js';

/** Options of {@link ThreadedSpanExporter}. */
export interface ThreadedSpanExporterOptions {
  /**
   * Absolute path (or file URL) of a module exporting `OTLPTraceExporter`, loaded with `require`
   * on the thread, e.g. `require.resolve('@opentelemetry/exporter-trace-otlp-proto')`.
   */
  exporterModule: string;
  /** Passed to `new OTLPTraceExporter(config)` on the thread (plain data only). */
  exporterConfig: Record<string, unknown>;
  /**
   * URL of attempt-record.ts (or its built .js): the thread imports it and then encodes batches
   * of lazy attempts from their records ({@link ThreadedSpanExporter.records}).
   */
  recordModule?: string;
  /**
   * URL of a module whose `register()` lets the thread import TypeScript (tsx's `esm/api`), for
   * a record module that is a .ts file and a thread without such a loader (under vitest).
   */
  recordLoader?: string;
  /**
   * The thread's nice value on Linux (0 to 19; never below the process's own): a thread of
   * lower priority than the work does not take a core from it when both are ready, nor, woken
   * by a batch, preempt the thread that sent it. Undefined or 0: the process's priority.
   */
  nice?: number;
}

/**
 * What the thread answers: the result of request `id`; id 0 is a failure after the answer,
 * id -1 hands back the buffer of an encoded request that was sent (`buffer`), and id -2 says
 * whether the record module loaded.
 */
interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  buffer?: ArrayBuffer;
}

// The thread is CommonJS evaluated from this string, so it loads under Node, tsx and vitest
// alike without a loader for TypeScript. It only rebuilds the fields the OTLP serializers read.
const THREAD_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
// On Linux a thread has a nice value of its own, and pid 0 names the calling thread; elsewhere
// it would name the whole process, which is left alone. Never raised above what it is.
if (workerData.nice > 0 && process.platform === 'linux') {
  try {
    const os = require('node:os');
    if (os.getPriority(0) < workerData.nice) os.setPriority(0, workerData.nice);
  } catch {
    // Not allowed here: the thread runs at the process's priority.
  }
}
const { OTLPTraceExporter } = require(workerData.exporterModule);
const exporter = new OTLPTraceExporter(workerData.exporterConfig);
// Requests encoded on the main thread (direct spans, protobuf) go out through the same HTTP
// transport (retries, headers, compression, timeouts from the same configuration) with a
// serializer that passes their bytes through.
let bytesExporter;
function sendBytes(item, callback) {
  if (bytesExporter === undefined) {
    const load = require('node:module').createRequire(workerData.exporterModule);
    const { OTLPExporterBase } = load('@opentelemetry/otlp-exporter-base');
    const http = load('@opentelemetry/otlp-exporter-base/node-http');
    const { ProtobufTraceSerializer } = load('@opentelemetry/otlp-transformer');
    const serializer = {
      serializeRequest: (request) => request.bytes,
      deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
    };
    const options = http.convertLegacyHttpOptions(workerData.exporterConfig, 'TRACES', 'v1/traces', {
      'Content-Type': 'application/x-protobuf',
    });
    bytesExporter = new OTLPExporterBase(
      http.createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', {
        name: 'span',
        countItems: (request) => request.count,
      }),
    );
  }
  bytesExporter.export(item, callback);
}
// Batches of lazy attempts' records are encoded here by the record module's RecordEncoder,
// once it has loaded (the main thread sends them only after it heard so).
let recordEncoder;
if (workerData.recordModule !== undefined) {
  (async () => {
    let recordModule;
    try {
      recordModule = await import(workerData.recordModule);
    } catch (error) {
      if (workerData.recordLoader === undefined) throw error;
      const loader = await import(workerData.recordLoader);
      (loader.register ?? loader.default.register)();
      // A new URL: the failed import stays failed under its own.
      recordModule = await import(workerData.recordModule + '?loader');
    }
    recordEncoder = new recordModule.RecordEncoder();
    parentPort.postMessage({ id: -2, ok: true });
  })().catch((error) => parentPort.postMessage({ id: -2, ok: false, error: String(error) }));
}
const resources = new Map();
const scopes = new Map();
const traceStates = new Map();
const traceState = (s) => {
  if (s === undefined) return undefined;
  let t = traceStates.get(s);
  if (t === undefined) {
    t = { serialize: () => s };
    if (traceStates.size < 1024) traceStates.set(s, t);
  }
  return t;
};
function linksOf(flat) {
  const links = [];
  for (const l of flat ?? [])
    links.push({
      context: { traceId: l[0], spanId: l[1], traceFlags: l[2], traceState: traceState(l[3]), isRemote: l[4] },
      attributes: l[5],
      droppedAttributesCount: l[6],
    });
  return links;
}
function spanOf(a) {
  const ctx = { traceId: a[0], spanId: a[1], traceFlags: a[2], traceState: traceState(a[3]) };
  const events = [];
  const ev = a[14];
  for (let i = 0; i < ev.length; i += 5)
    events.push({ name: ev[i], time: [ev[i + 1], ev[i + 2]], attributes: ev[i + 3], droppedAttributesCount: ev[i + 4] });
  const links = linksOf(a[16]);
  return {
    name: a[6],
    kind: a[7],
    spanContext: () => ctx,
    parentSpanContext: a[4] === undefined ? undefined : { traceId: a[0], spanId: a[4], traceFlags: a[2], isRemote: a[5] },
    startTime: [a[8], a[9]],
    endTime: [a[10], a[11]],
    duration: [a[10] - a[8], a[11] - a[9]],
    attributes: a[12],
    droppedAttributesCount: a[13],
    events,
    droppedEventsCount: a[15],
    links,
    droppedLinksCount: a[19],
    status: a[18] === undefined ? { code: a[17] } : { code: a[17], message: a[18] },
    ended: true,
    resource: resources.get(a[20]),
    instrumentationScope: scopes.get(a[21]),
  };
}
// At most MAX_SENDS exports are sending at once (the exporter refuses more than its own limit);
// later batches wait here, encoded when their turn comes. The main thread's batch processor
// hears "done" at once while few batches are sending or waiting; past that only as they go
// out, so a slow receiver holds spans back in the processor's queue (bounded) and not here.
const MAX_SENDS = 4;
let sending = 0;
const queued = [];
const unanswered = [];
function pump() {
  while (sending < MAX_SENDS && queued.length > 0) {
    const { id, spans, bytes, local } = queued.shift();
    sending++;
    let sync = true;
    let early;
    const send = bytes === undefined ? (cb) => exporter.export(spans, cb) : (cb) => sendBytes(bytes, cb);
    send((result) => {
      // A request sent in full: its buffer goes back to whoever wrote it, for the next one.
      if (bytes !== undefined && result.code === 0) {
        const buffer = bytes.bytes.buffer;
        if (local) recordEncoder.recycle(buffer);
        else parentPort.postMessage({ id: -1, ok: true, buffer }, [buffer]);
      }
      if (sync) {
        early = result;
        return;
      }
      if (result.code !== 0) parentPort.postMessage({ id: 0, ok: false, error: String(result.error) });
      sending--;
      pump();
      release();
    });
    sync = false;
    if (early !== undefined) {
      // Refused or failed before sending: that batch's answer is the failure.
      sending--;
      const at = unanswered.indexOf(id);
      if (at >= 0) unanswered.splice(at, 1);
      reply(id, early);
    }
  }
  if (queued.length === 0) for (const resolve of drainWaiters.splice(0)) resolve();
}
// A batch to send (its spans, or a request's bytes: \`local\` when this thread wrote them).
function enqueue(batch) {
  queued.push(batch);
  unanswered.push(batch.id);
  pump();
  release();
}
function release() {
  while (unanswered.length > 0 && sending + queued.length <= MAX_SENDS) reply(unanswered.shift(), { code: 0 });
}
// A flush or shutdown starts once every queued batch has gone to the exporter.
const drainWaiters = [];
function whenDrained(fn) {
  if (queued.length === 0) return Promise.resolve().then(fn);
  return new Promise((resolve) => drainWaiters.push(resolve)).then(fn);
}
const reply = (id, result) =>
  parentPort.postMessage({ id, ok: result.code === 0, error: result.error === undefined ? undefined : String(result.error) });
parentPort.on('message', (m) => {
  if (m.type === 'export') {
    for (const [id, r] of m.resources) resources.set(id, r);
    for (const [id, s] of m.scopes) scopes.set(id, s);
    let spans;
    try {
      spans = m.spans.map(spanOf);
    } catch (error) {
      reply(m.id, { code: 1, error });
      return;
    }
    enqueue({ id: m.id, spans });
  } else if (m.type === 'export-records') {
    for (const [id, r] of m.resources) resources.set(id, r);
    for (const [id, s] of m.scopes) scopes.set(id, s);
    let request;
    try {
      recordEncoder.define(m.definitions);
      request = recordEncoder.encode({
        resource: resources.get(m.resource),
        scope: scopes.get(m.scope),
        bytes: m.bytes,
        layout: m.layout,
        records: m.records,
        count: m.count,
      });
    } catch (error) {
      reply(m.id, { code: 1, error });
      return;
    }
    enqueue({ id: m.id, bytes: { bytes: request, count: m.count }, local: true });
  } else if (m.type === 'export-bytes') {
    enqueue({ id: m.id, bytes: { bytes: new Uint8Array(m.bytes, 0, m.length), count: m.count } });
  } else if (m.type === 'flush') {
    whenDrained(() => Promise.all([exporter.forceFlush(), bytesExporter?.forceFlush()])).then(() => reply(m.id, { code: 0 }), (error) => reply(m.id, { code: 1, error }));
  } else if (m.type === 'shutdown') {
    whenDrained(() => Promise.all([exporter.shutdown(), bytesExporter?.shutdown()])).then(() => reply(m.id, { code: 0 }), (error) => reply(m.id, { code: 1, error }));
  }
});
`;

/**
 * One span as the thread receives it: trace id, span id, flags, trace state, parent span id,
 * parent remote, name, kind, start [s, ns], end [s, ns], attributes, dropped attributes,
 * events (name, s, ns, attributes, dropped: five entries each), dropped events, links, status
 * code, status message, dropped links, resource id, scope id (`spanOf` in the thread source).
 */
type FlatSpan = unknown[];

/** The smallest slot of shared memory for records: a batch of 4096 attempts' records fits. */
const SLOT_BYTES = 512 * 1024;
/** Free slots kept for the next batches (a few batches are in the thread at once). */
const MAX_FREE_SLOTS = 8;

/** The buffers of `views` that are theirs alone (each view starts and fills its buffer), to transfer. */
function transferable(views: ReadonlyArray<Uint8Array | undefined>): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of views)
    if (
      v !== undefined &&
      v.byteOffset === 0 &&
      v.byteLength === v.buffer.byteLength &&
      v.buffer instanceof ArrayBuffer
    )
      out.push(v.buffer);
  return out;
}

/**
 * Exports spans through `OTLPTraceExporter` on a worker thread; use it under a
 * `BatchSpanProcessor` wrapped in {@link FlushingSpanProcessor}. `export` reports success once
 * the thread's exporter has encoded the batch and started sending it (failures after that are
 * logged through `diag`); `forceFlush` waits until every send has finished. The thread starts
 * with the exporter and ends at `shutdown()`; it keeps the process alive only while a request
 * waits for its answer. If the thread dies, pending and later exports fail (through the result
 * callback, never thrown).
 */
export class ThreadedSpanExporter implements SpanExporter {
  readonly #worker: Worker | undefined;
  readonly #pending = new Map<number, (reply: Reply) => void>();
  /** Free slots of shared memory for records (see `#slot`). */
  readonly #slots: SharedArrayBuffer[] = [];
  readonly #resources = new Map<object, number>();
  readonly #scopes = new Map<object, number>();
  #nextId = 1;
  #dead: string | undefined;
  #shutdown: Promise<void> | undefined;
  #recycle: ((buffer: ArrayBuffer) => void) | undefined;
  /** Whether the thread has loaded the record module (undefined until it says). */
  #recordsLoaded: boolean | undefined;
  #recordsSettled: ((loaded: boolean) => void) | undefined;
  readonly #recordsReady: Promise<boolean>;
  /**
   * Where a {@link DirectSpanQueue} hands batches with lazy attempts' records, when the
   * exporter was given the record module: ready once the thread has loaded it.
   */
  readonly records: RecordSender | undefined;

  constructor(options: ThreadedSpanExporterOptions) {
    this.#recordsReady = new Promise((resolve) => (this.#recordsSettled = resolve));
    if (options.recordModule === undefined) this.#recordsDone(false);
    else {
      const table = new RecordTable();
      this.records = {
        table,
        isReady: () => this.#recordsLoaded === true && this.#dead === undefined,
        send: (batch, done) => this.#sendRecords(table, batch, done),
        slot: (n) => this.#slot(n),
      };
    }
    let worker: Worker | undefined;
    try {
      worker = new Worker(THREAD_SOURCE, {
        eval: true,
        workerData: {
          exporterModule: options.exporterModule,
          exporterConfig: options.exporterConfig,
          recordModule: options.recordModule,
          recordLoader: options.recordLoader,
          nice: options.nice,
        },
      });
      worker.unref();
      worker.on('message', (reply: Reply) => this.#settle(reply));
      worker.on('error', (error) => this.#die(`export thread failed: ${error.message}`));
      worker.on('exit', (code) => this.#die(`export thread exited (${String(code)})`));
    } catch (error) {
      this.#dead = `export thread could not start: ${(error as Error).message}`;
      this.#recordsDone(false);
    }
    this.#worker = worker;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      if (spans.length === 0) {
        resultCallback({ code: ExportResultCode.SUCCESS });
        return;
      }
      const resources: Array<[number, { attributes: Attributes; schemaUrl?: string }]> = [];
      const scopes: Array<[number, { name: string; version?: string; schemaUrl?: string }]> = [];
      const flat: FlatSpan[] = new Array<FlatSpan>(spans.length);
      for (let i = 0; i < spans.length; i++) flat[i] = this.#flatten(spans[i]!, resources, scopes);
      this.#request({ type: 'export', spans: flat, resources, scopes }, (reply) =>
        resultCallback(
          reply.ok
            ? { code: ExportResultCode.SUCCESS }
            : { code: ExportResultCode.FAILED, error: new Error(reply.error ?? 'span export failed') },
        ),
      );
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  /**
   * Sends one OTLP/protobuf trace request encoded on this thread (`count` spans) through the
   * thread's HTTP transport; `done` as for `export` (an error when it failed).
   */
  sendEncoded(bytes: Uint8Array<ArrayBuffer>, count: number, done: (error?: Error) => void): void {
    try {
      if (bytes.byteOffset !== 0) throw new Error('sendEncoded: bytes must start their buffer');
      this.#request(
        { type: 'export-bytes', bytes: bytes.buffer, length: bytes.byteLength, count },
        (reply) => done(reply.ok ? undefined : new Error(reply.error ?? 'span export failed')),
        [bytes.buffer],
      );
    } catch (error) {
      done(error as Error);
    }
  }

  /**
   * Resolves to whether the thread encodes records: true once it has loaded the record module,
   * false when it was not given one, could not load it, or died.
   */
  recordsReady(): Promise<boolean> {
    return this.#recordsReady;
  }

  #recordsDone(loaded: boolean): void {
    this.#recordsLoaded ??= loaded;
    this.#recordsSettled?.(this.#recordsLoaded);
    this.#recordsSettled = undefined;
  }

  /**
   * Shared memory for `n` bytes of records (see `RecordSender.slot`): a free slot of the pool,
   * or a new one. The thread reads a batch's records while it encodes them, before it answers
   * for the batch; the slot is free again at the answer.
   */
  #slot(n: number): Uint8Array {
    let memory = this.#slots.pop();
    if (memory === undefined || memory.byteLength < n)
      memory = new SharedArrayBuffer(Math.max(n, SLOT_BYTES));
    return new Uint8Array(memory, 0, n);
  }

  /** A batch's records are no longer read: their slot goes back to the pool. */
  #slotFree(records: Uint8Array): void {
    const memory = records.buffer;
    if (memory instanceof SharedArrayBuffer && this.#slots.length < MAX_FREE_SLOTS) this.#slots.push(memory);
  }

  /** One batch with records (a DirectSpanQueue's, through {@link records}). */
  #sendRecords(table: RecordTable, batch: RecordBatch, done: (error?: Error) => void): void {
    try {
      const resources: Array<[number, { attributes: Attributes; schemaUrl?: string }]> = [];
      const scopes: Array<[number, { name: string; version?: string; schemaUrl?: string }]> = [];
      const resource = this.#resourceId(batch.resource as ReadableSpan['resource'], resources);
      const scope = this.#scopeId(batch.scope, scopes);
      const bytes = batch.bytes;
      this.#request(
        {
          type: 'export-records',
          resources,
          scopes,
          resource,
          scope,
          definitions: table.takeDefinitions(),
          bytes,
          layout: batch.layout,
          records: batch.records,
          count: batch.count,
        },
        (reply) => {
          this.#slotFree(batch.records);
          done(reply.ok ? undefined : new Error(reply.error ?? 'span export failed'));
        },
        transferable([bytes, batch.records]),
      );
    } catch (error) {
      done(error as Error);
    }
  }

  /**
   * Where the buffers of requests given to {@link sendEncoded} go once sent in full (the whole
   * buffer is transferred to the thread, and back): the encoder writes the next requests into
   * them instead of into new memory.
   */
  recycleBuffers(to: (buffer: ArrayBuffer) => void): void {
    this.#recycle = to;
  }

  /** Waits for the thread's exporter to finish what it is sending. */
  forceFlush(): Promise<void> {
    return new Promise((resolve) => this.#request({ type: 'flush' }, () => resolve()));
  }

  /** Flushes and stops the thread's exporter, then the thread. Later calls return the same promise. */
  shutdown(): Promise<void> {
    this.#shutdown ??= new Promise<void>((resolve) =>
      this.#request({ type: 'shutdown' }, () => resolve()),
    ).then(async () => {
      await this.#worker?.terminate().catch(() => {});
    });
    return this.#shutdown;
  }

  #flatten(
    span: ReadableSpan,
    resources: Array<[number, { attributes: Attributes; schemaUrl?: string }]>,
    scopes: Array<[number, { name: string; version?: string; schemaUrl?: string }]>,
  ): FlatSpan {
    const resourceId = this.#resourceId(span.resource, resources);
    const scopeId = this.#scopeId(span.instrumentationScope, scopes);
    const ctx = span.spanContext();
    const parent = span.parentSpanContext;
    const events: unknown[] = [];
    for (const e of span.events)
      events.push(e.name, e.time[0], e.time[1], e.attributes ?? {}, e.droppedAttributesCount ?? 0);
    const links =
      span.links.length === 0
        ? undefined
        : span.links.map((l) => [
            l.context.traceId,
            l.context.spanId,
            l.context.traceFlags,
            l.context.traceState?.serialize(),
            l.context.isRemote,
            l.attributes ?? {},
            l.droppedAttributesCount ?? 0,
          ]);
    return [
      ctx.traceId,
      ctx.spanId,
      ctx.traceFlags,
      ctx.traceState?.serialize(),
      parent?.spanId,
      parent?.isRemote,
      span.name,
      span.kind,
      span.startTime[0],
      span.startTime[1],
      span.endTime[0],
      span.endTime[1],
      span.attributes,
      span.droppedAttributesCount,
      events,
      span.droppedEventsCount,
      links,
      span.status.code,
      span.status.message,
      span.droppedLinksCount,
      resourceId,
      scopeId,
    ];
  }

  /** The thread's number for `resource`; its definition goes into `resources` the first time. */
  #resourceId(
    resource: ReadableSpan['resource'],
    resources: Array<[number, { attributes: Attributes; schemaUrl?: string }]>,
  ): number {
    let id = this.#resources.get(resource);
    if (id === undefined) {
      id = this.#resources.size + 1;
      this.#resources.set(resource, id);
      const { attributes, schemaUrl } = resource;
      resources.push([id, schemaUrl === undefined ? { attributes } : { attributes, schemaUrl }]);
    }
    return id;
  }

  /** The thread's number for `scope`; its definition goes into `scopes` the first time. */
  #scopeId(
    scope: ReadableSpan['instrumentationScope'],
    scopes: Array<[number, { name: string; version?: string; schemaUrl?: string }]>,
  ): number {
    let id = this.#scopes.get(scope);
    if (id === undefined) {
      id = this.#scopes.size + 1;
      this.#scopes.set(scope, id);
      scopes.push([id, { ...scope }]);
    }
    return id;
  }

  #request(
    message: Record<string, unknown>,
    onReply: (reply: Reply) => void,
    transfer?: ArrayBuffer[],
  ): void {
    const worker = this.#worker;
    if (this.#dead !== undefined || worker === undefined) {
      onReply({ id: 0, ok: false, error: this.#dead ?? 'export thread not running' });
      return;
    }
    const id = this.#nextId++;
    // Keep the process alive while an answer is due (a flush at exit must complete).
    if (this.#pending.size === 0) worker.ref();
    this.#pending.set(id, onReply);
    try {
      worker.postMessage({ ...message, id }, transfer);
    } catch (error) {
      this.#settle({ id, ok: false, error: (error as Error).message });
    }
  }

  #settle(reply: Reply): void {
    if (reply.id === -2) {
      if (!reply.ok)
        diag.warn(
          `export thread cannot encode attempt records (${reply.error ?? 'unknown error'}): they are encoded on the main thread`,
        );
      this.#recordsDone(reply.ok);
      return;
    }
    if (reply.id === -1) {
      if (reply.buffer !== undefined) this.#recycle?.(reply.buffer);
      return;
    }
    if (reply.id === 0) {
      diag.warn(`OTLP span export failed: ${reply.error ?? 'unknown error'}`);
      return;
    }
    const onReply = this.#pending.get(reply.id);
    if (onReply === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    onReply(reply);
  }

  #die(reason: string): void {
    this.#dead ??= reason;
    this.#recordsDone(false);
    for (const id of [...this.#pending.keys()]) this.#settle({ id, ok: false, error: reason });
  }
}

/**
 * A span processor (normally a `BatchSpanProcessor` over a {@link ThreadedSpanExporter}) whose
 * `forceFlush` also waits for the exporter, so a flush returns only after the spans were sent:
 * the batch processor alone only waits for `export` callbacks, which this exporter gives before
 * the HTTP request completes. With a {@link DirectSpanQueue}, animus's direct work spans go to
 * that queue (encoded there when their batch leaves) instead of the batch processor.
 */
export class FlushingSpanProcessor implements SpanProcessor {
  readonly #processor: SpanProcessor;
  readonly #exporter: SpanExporter;
  readonly #direct: DirectSpanQueue | undefined;

  constructor(processor: SpanProcessor, exporter: SpanExporter, direct?: DirectSpanQueue) {
    this.#processor = processor;
    this.#exporter = exporter;
    this.#direct = direct;
  }

  onStart(span: Span, parentContext: Context): void {
    if (this.#direct !== undefined && (span as unknown) instanceof DirectSpan) return;
    this.#processor.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if (this.#direct !== undefined && span instanceof DirectSpan) this.#direct.add(span);
    else this.#processor.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all([this.#processor.forceFlush(), this.#direct?.forceFlush()]);
    await this.#exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    // The direct queue hands over what waits; the batch processor flushes, then shuts the
    // exporter down (which finishes its sends).
    await this.#direct?.shutdown().catch(() => {});
    return this.#processor.shutdown();
  }
}
