// Lazy attempts (attempt-span.ts) as records, so that the export thread can encode them
// (span-export-thread.ts) instead of the main thread: an attempt's span is a few values (its
// traceparent, span id, start, end, ids, outcome) around parts every attempt of a queue shares
// (the constant attributes and span name, the lifecycle events' attribute sets). A record is
// those values in a flat array, with the shared parts named by number; each shared part is sent
// to the thread once (RecordTable on the main thread, RecordEncoder on the export thread).
// One function, `fillAttemptFields`, hands the encoder an attempt's fields on either thread, so
// an attempt encodes to the same bytes both ways. This module is loaded by the export thread
// too: it imports nothing but the encoder, the names and the API's constants.
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import type { Attributes, AttributeValue, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import { DirectSpanEncoder } from './direct-span-encoder.js';
import type { DirectSpanFields, EncodableSpan } from './direct-span-encoder.js';
import { MessagingAttr, WORK_TRANSITION_EVENT, WorkAttr } from './names.js';

/** This module's URL, for the export thread to import it. */
export const RECORD_MODULE = import.meta.url;

/** A queue's constant attributes (frozen) and its attempts' span name. */
export interface SharedBase {
  readonly name: string;
  readonly attributes: Attributes;
}

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];

/**
 * What `fillAttemptFields` hands the encoder, rewritten for every attempt: the encoder reads
 * the fields at once (it is not reentrant), so one set of objects serves every span it writes.
 */
const FILL = {
  context: { traceId: '', spanId: '', traceFlags: TraceFlags.SAMPLED } as SpanContext,
  parent: { traceId: '', spanId: '', traceFlags: TraceFlags.SAMPLED, isRemote: true } as SpanContext,
  // Filled by writeOwnAttributes, then the outcome: its first use sets the keys' order.
  own: {} as Record<string, AttributeValue>,
  events: [WORK_TRANSITION_EVENT, 0, undefined, 0, WORK_TRANSITION_EVENT, 0, undefined, 0] as unknown[],
};

/**
 * An attempt's own attributes, written into `into`, in the order a DirectSpan of it keeps them
 * (the outcome is set at its end): the lazy and the taken-over span must encode alike.
 */
export function writeOwnAttributes(
  into: Record<string, AttributeValue>,
  workId: string,
  attempt: number,
  messageId: string,
): Record<string, AttributeValue> {
  into[WorkAttr.id] = workId;
  into[WorkAttr.attempt] = attempt;
  into[MessagingAttr.messageId] = messageId;
  return into;
}

/**
 * The fields of an ended attempt's CONSUMER span, as a DirectSpan of it would hand them over
 * (see `DirectSpan.fillFields`), in objects shared by every attempt: valid until the next call.
 * `traceparent` is the message's sampled version-00 header (the parent); an end before the
 * start is the start; `firstEvent` and `lastEvent` are the attributes of the queued → running
 * and running → final lifecycle events.
 */
export function fillAttemptFields(
  f: DirectSpanFields,
  traceparent: string,
  spanId: string,
  start: number,
  end: number,
  base: SharedBase,
  workId: string,
  attempt: number,
  messageId: string,
  outcome: string,
  firstEvent: Attributes,
  lastEvent: Attributes,
): void {
  const traceId = traceparent.slice(3, 35);
  const ctx = FILL.context as { traceId: string; spanId: string };
  ctx.traceId = traceId;
  ctx.spanId = spanId;
  f.context = FILL.context;
  const parent = FILL.parent as { traceId: string; spanId: string };
  parent.traceId = traceId;
  parent.spanId = traceparent.slice(36, 52);
  f.parent = FILL.parent;
  f.name = base.name;
  f.kind = SpanKind.CONSUMER;
  const last = end < start ? start : end;
  f.startTime = start;
  f.endTime = last;
  f.base = base.attributes;
  const own = writeOwnAttributes(FILL.own, workId, attempt, messageId);
  own[WorkAttr.outcome] = outcome;
  f.own = own;
  f.droppedAttributes = 0;
  const events = FILL.events;
  events[1] = start;
  events[2] = firstEvent;
  events[5] = last;
  events[6] = lastEvent;
  f.events = events;
  f.droppedEvents = 0;
  f.links = NO_LINKS;
  f.droppedLinks = 0;
  f.status = UNSET;
}

/** Values per record (see {@link writeAttemptRecord}). */
export const RECORD_SIZE = 11;

/** Shared parts the table names at most; past it, attempts are encoded on the main thread. */
const TABLE_LIMIT = 4096;
const KIND_ATTRIBUTES = 0;
const KIND_BASE = 1;

/**
 * The main thread's names for shared parts: a number for each, and the definitions made since
 * they were last taken, for the next message to the export thread to carry.
 */
export class RecordTable {
  readonly #ids = new WeakMap<object, number>();
  #next = 1;
  /** Triples: number, kind, value. */
  #definitions: unknown[] = [];

  /** The number of a frozen attribute set; 0 once the table is full. */
  attributes(attributes: Attributes): number {
    return this.#id(attributes, KIND_ATTRIBUTES, attributes);
  }

  /** The number of a queue's constant part; 0 once the table is full. */
  base(base: SharedBase): number {
    return this.#id(base, KIND_BASE, [base.name, base.attributes]);
  }

  #id(key: object, kind: number, value: unknown): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      if (this.#next > TABLE_LIMIT) return 0;
      id = this.#next++;
      this.#ids.set(key, id);
      this.#definitions.push(id, kind, value);
    }
    return id;
  }

  /** The definitions made since the last call (to go with the message that is sent next). */
  takeDefinitions(): unknown[] {
    const taken = this.#definitions;
    if (taken.length > 0) this.#definitions = [];
    return taken;
  }
}

/**
 * Appends an ended attempt's record to `out` (the arguments as for {@link fillAttemptFields});
 * false, with nothing appended, when the table is full.
 */
export function writeAttemptRecord(
  out: unknown[],
  table: RecordTable,
  traceparent: string,
  spanId: string,
  start: number,
  end: number,
  base: SharedBase,
  workId: string,
  attempt: number,
  messageId: string,
  outcome: string,
  firstEvent: Attributes,
  lastEvent: Attributes,
): boolean {
  const baseId = table.base(base);
  const firstId = table.attributes(firstEvent);
  const lastId = table.attributes(lastEvent);
  if (baseId === 0 || firstId === 0 || lastId === 0) return false;
  out.push(traceparent, spanId, start, end, baseId, workId, attempt, messageId, outcome, firstId, lastId);
  return true;
}

/** A batch as the main thread hands it to the export thread (see `RecordEncoder.encode`). */
export interface RecordBatch {
  readonly resource: unknown;
  readonly scope: EncodableSpan['instrumentationScope'];
  /** Entries of spans encoded on the main thread, one after another; none when undefined. */
  readonly bytes: Uint8Array | undefined;
  /**
   * Each span's place, in order: the length of its entry in `bytes`, or 0 for the next record.
   * Undefined when every span is a record.
   */
  readonly layout: readonly number[] | undefined;
  /** The records, {@link RECORD_SIZE} values each. */
  readonly records: readonly unknown[];
  /** Spans in all. */
  readonly count: number;
}

/** One record as the encoder reads it (the record at `at` of `records`). */
class RecordSpan implements EncodableSpan {
  readonly resource: unknown = undefined;
  readonly instrumentationScope = { name: '' };
  records: readonly unknown[] = [];
  at = 0;
  readonly #values: Map<number, unknown>;

  constructor(values: Map<number, unknown>) {
    this.#values = values;
  }

  #value<T>(id: unknown): T {
    const value = this.#values.get(id as number);
    if (value === undefined) throw new Error(`attempt record: shared part ${String(id)} is not defined`);
    return value as T;
  }

  fillFields(f: DirectSpanFields): void {
    const r = this.records;
    const i = this.at;
    fillAttemptFields(
      f,
      r[i] as string,
      r[i + 1] as string,
      r[i + 2] as number,
      r[i + 3] as number,
      this.#value<SharedBase>(r[i + 4]),
      r[i + 5] as string,
      r[i + 6] as number,
      r[i + 7] as string,
      r[i + 8] as string,
      this.#value<Attributes>(r[i + 9]),
      this.#value<Attributes>(r[i + 10]),
    );
  }
}

/**
 * The export thread's side: keeps the shared parts it was sent and turns batches into OTLP
 * trace requests, with the bytes the main thread's encoder would have written for them.
 */
export class RecordEncoder {
  readonly #encoder = new DirectSpanEncoder();
  readonly #values = new Map<number, unknown>();
  readonly #span = new RecordSpan(this.#values);
  #entries: Buffer = Buffer.allocUnsafe(64 * 1024);
  #length = 0;

  /** Takes definitions made by a {@link RecordTable} (the attribute sets frozen again). */
  define(definitions: readonly unknown[]): void {
    for (let i = 0; i + 2 < definitions.length; i += 3) {
      const id = definitions[i] as number;
      const value = definitions[i + 2];
      if (definitions[i + 1] === KIND_BASE) {
        const [name, attributes] = value as [string, Attributes];
        this.#values.set(id, Object.freeze({ name, attributes: Object.freeze(attributes) }));
      } else this.#values.set(id, Object.freeze(value as Attributes));
    }
  }

  /** The request for `batch`, in a buffer of its own (hand it back with {@link recycle}). */
  encode(batch: RecordBatch): Uint8Array<ArrayBuffer> {
    this.#length = 0;
    const { bytes, layout, records } = batch;
    const span = this.#span;
    span.records = records;
    span.at = 0;
    if (layout === undefined) {
      while (span.at < records.length) this.#record();
    } else {
      let from = 0;
      for (const length of layout) {
        if (length === 0) this.#record();
        else {
          this.#append(bytes!.subarray(from, from + length));
          from += length;
        }
      }
    }
    return this.#encoder.wrap(batch.resource, batch.scope, this.#entries.subarray(0, this.#length));
  }

  /** Takes back a request's buffer once it has been sent. */
  recycle(buffer: ArrayBuffer): void {
    this.#encoder.recycle(buffer);
  }

  #record(): void {
    const span = this.#span;
    const length = this.#encoder.encodeSpanInPlace(span);
    span.at += RECORD_SIZE;
    this.#append(this.#encoder.workBuffer.subarray(0, length));
  }

  #append(entry: Uint8Array): void {
    const n = entry.length;
    if (this.#length + n > this.#entries.length) {
      const next = Buffer.allocUnsafe(Math.max(this.#entries.length * 2, this.#length + n));
      this.#entries.copy(next, 0, 0, this.#length);
      this.#entries = next;
    }
    this.#entries.set(entry, this.#length);
    this.#length += n;
  }
}
