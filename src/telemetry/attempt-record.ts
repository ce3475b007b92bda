// Lazy attempts (attempt-span.ts) as records, so that the export thread can encode them
// (span-export-thread.ts) instead of the main thread: an attempt's span is a few values (its
// traceparent, span id, start, end, ids, outcome) around parts every attempt of a queue shares
// (the constant attributes and span name, the lifecycle events' attribute sets). A record is
// those values written as bytes (RecordBuffer: outside the V8 heap, so that attempts waiting for
// their batch leave nothing for the collector to copy or promote, and a batch is transferred to
// the thread, not cloned), with the shared parts named by number; each shared part is sent to the
// thread once (RecordTable on the main thread, RecordEncoder on the export thread).
// On the main thread an attempt is encoded from the fields `fillAttemptFields` hands the
// encoder; on the export thread from a span shape per set of shared parts (the encoder's
// `shape`: everything but the ids, times and own attributes encoded once), to the same bytes
// (tests hold the two together). This module is loaded by the export thread too: it imports
// nothing but the encoder, the names and the API's constants.
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import type { Attributes, AttributeValue, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import { DirectSpanEncoder } from './direct-span-encoder.js';
import type { DirectSpanFields, EncodableSpan, SpanShape } from './direct-span-encoder.js';
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
  events: [] as unknown[],
};

/** An attempt's span kind. */
const ATTEMPT_KIND = SpanKind.CONSUMER;

/**
 * An attempt's two lifecycle events, written into `into` as `DirectSpanFields.events` has them:
 * queued → running at the start, running → its end state at the end.
 */
function attemptEvents(
  into: unknown[],
  start: number,
  firstEvent: Attributes,
  end: number,
  lastEvent: Attributes,
): unknown[] {
  into[0] = WORK_TRANSITION_EVENT;
  into[1] = start;
  into[2] = firstEvent;
  into[3] = 0;
  into[4] = WORK_TRANSITION_EVENT;
  into[5] = end;
  into[6] = lastEvent;
  into[7] = 0;
  return into;
}

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

/** The attempt's own attributes with its outcome, as its span ends with them. */
function writeEndedAttributes(
  into: Record<string, AttributeValue>,
  workId: string,
  attempt: number,
  messageId: string,
  outcome: string,
): Record<string, AttributeValue> {
  writeOwnAttributes(into, workId, attempt, messageId)[WorkAttr.outcome] = outcome;
  return into;
}

/** The end an exporter reads: an end before the start is the start. */
const endOf = (start: number, end: number): number => (end < start ? start : end);

/** An ended attempt's values, as its span, its record and its encoding read them. */
export interface EndedAttempt {
  /** The message's sampled version-00 `traceparent` (the parent). */
  traceparent: string;
  /** The span id in hex; '' in a record's values when it is given as two words instead. */
  spanId: string;
  /** The span id's high and low 32 bits, for a record (read when `spanId` is ''). */
  spanIdHi: number;
  spanIdLo: number;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  base: SharedBase;
  workId: string;
  attempt: number;
  messageId: string;
  outcome: string;
  /** The attributes of the queued → running and running → final lifecycle events. */
  firstEvent: Attributes;
  lastEvent: Attributes;
}

/**
 * The fields of an ended attempt's CONSUMER span, as a DirectSpan of it would hand them over
 * (see `DirectSpan.fillFields`), in objects shared by every attempt: valid until the next call.
 * An end before the start is the start.
 */
export function fillAttemptFields(f: DirectSpanFields, a: EndedAttempt): void {
  const { traceparent, start } = a;
  const traceId = traceparent.slice(3, 35);
  const ctx = FILL.context as { traceId: string; spanId: string };
  ctx.traceId = traceId;
  ctx.spanId = a.spanId;
  f.context = FILL.context;
  const parent = FILL.parent as { traceId: string; spanId: string };
  parent.traceId = traceId;
  parent.spanId = traceparent.slice(36, 52);
  f.parent = FILL.parent;
  f.name = a.base.name;
  f.kind = ATTEMPT_KIND;
  const last = endOf(start, a.end);
  f.startTime = start;
  f.endTime = last;
  f.base = a.base.attributes;
  f.own = writeEndedAttributes(FILL.own, a.workId, a.attempt, a.messageId, a.outcome);
  f.droppedAttributes = 0;
  f.events = attemptEvents(FILL.events, start, a.firstEvent, last, a.lastEvent);
  f.droppedEvents = 0;
  f.links = NO_LINKS;
  f.droppedLinks = 0;
  f.status = UNSET;
}

/**
 * A record's fixed part (see {@link writeAttemptRecord}): the three shared parts' numbers (u16
 * each) and two bytes unused, then start, end and attempt (float64 each); its strings follow.
 */
const RECORD_FIXED = 32;
/** Strings per record: traceparent, span id, work id, message id, outcome. */
const RECORD_STRINGS = 5;

/**
 * Records one after another, as bytes in a buffer of their own that grows as needed (records
 * are appended with {@link writeAttemptRecord}). Offsets are byte offsets.
 */
export class RecordBuffer {
  #bytes: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  /** The same bytes, for the numbers (cheaper per call than Buffer's write methods). */
  #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength);
  #length = 0;
  /** Records written since the buffer was made or last emptied. */
  count = 0;

  /** Bytes in use. */
  get length(): number {
    return this.#length;
  }

  /** The bytes `[from, to)` in an ArrayBuffer of their own (to transfer to the thread). */
  take(from = 0, to = this.#length): Uint8Array<ArrayBuffer> {
    return this.copyInto(new Uint8Array(to - from), from, to);
  }

  /** Copies the bytes `[from, to)` to the start of `target` (as long as they); returns `target`. */
  copyInto<T extends Uint8Array>(target: T, from = 0, to = this.#length): T {
    this.#bytes.copy(target, 0, from, to);
    return target;
  }

  /** Drops the bytes before `from` (later offsets move down by it). */
  dropFront(from: number): void {
    this.#bytes.copy(this.#bytes, 0, from, this.#length);
    this.#length -= from;
  }

  /** Empties the buffer. */
  clear(): void {
    this.#length = 0;
    this.count = 0;
  }

  #ensure(n: number): Buffer {
    if (this.#length + n > this.#bytes.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.#bytes.length * 2, this.#length + n));
      this.#bytes.copy(next, 0, 0, this.#length);
      this.#bytes = next;
      this.#view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    }
    return this.#bytes;
  }

  /** Appends one record; false (nothing written) when a string is longer than 65535 bytes. */
  write(
    baseId: number,
    firstId: number,
    lastId: number,
    start: number,
    end: number,
    attempt: number,
    strings: readonly string[],
    idHi = 0,
    idLo = 0,
  ): boolean {
    let room = RECORD_FIXED + 16;
    for (const text of strings) room += 2 + 3 * text.length;
    const buf = this.#ensure(room);
    const view = this.#view;
    const at = this.#length;
    view.setUint16(at, baseId, true);
    view.setUint16(at + 2, firstId, true);
    view.setUint16(at + 4, lastId, true);
    view.setFloat64(at + 8, start, true);
    view.setFloat64(at + 16, end, true);
    view.setFloat64(at + 24, attempt, true);
    let p = at + RECORD_FIXED;
    for (let k = 0; k < strings.length; k++) {
      const text = strings[k]!;
      // A span id given as words (an attempt's, see EndedAttempt) is written as hex here.
      const n = k === 1 && text === '' ? writeHexWords(buf, p + 2, idHi, idLo) : writeText(buf, p + 2, text);
      if (n > 0xffff) return false;
      view.setUint16(p, n, true);
      p += 2 + n;
    }
    this.#length = p;
    this.count++;
    return true;
  }
}

/** Lowercase hex digits' code units. */
const HEX_DIGITS = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Writes the 64-bit id `hi:lo` as 16 lowercase hex digits at `buf[p…]`; returns 16. */
function writeHexWords(buf: Buffer, p: number, hi: number, lo: number): number {
  for (let i = 7; i >= 0; i--) {
    buf[p + i] = HEX_DIGITS[hi & 15]!;
    buf[p + 8 + i] = HEX_DIGITS[lo & 15]!;
    hi >>>= 4;
    lo >>>= 4;
  }
  return 16;
}

/** Writes `text` as UTF-8 at `buf[p…]` (room for three bytes a character); returns its bytes. */
function writeText(buf: Buffer, p: number, text: string): number {
  const n = text.length;
  // ASCII (ids, digits, outcomes) in one loop; anything else through the UTF-8 encoder.
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return buf.write(text, p, 'utf8');
    buf[p + i] = c;
  }
  return n;
}

/** The strings of one record, rewritten for every record written (read at once). */
const STRINGS: string[] = new Array<string>(RECORD_STRINGS).fill('');

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
    return this.#id(attributes, KIND_ATTRIBUTES);
  }

  /** The number of a queue's constant part; 0 once the table is full. */
  base(base: SharedBase): number {
    return this.#id(base, KIND_BASE);
  }

  #id(key: object, kind: number): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      if (this.#next > TABLE_LIMIT) return 0;
      id = this.#next++;
      this.#ids.set(key, id);
      const base = key as SharedBase;
      this.#definitions.push(id, kind, kind === KIND_BASE ? [base.name, base.attributes] : key);
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
 * Appends an ended attempt's record to `out`; false, with nothing appended, when the table is
 * full, a string is longer than a record holds, or the attempt is not a whole number ≥ 0.
 */
export function writeAttemptRecord(out: RecordBuffer, table: RecordTable, a: EndedAttempt): boolean {
  const baseId = table.base(a.base);
  const firstId = table.attributes(a.firstEvent);
  const lastId = table.attributes(a.lastEvent);
  if (baseId === 0 || firstId === 0 || lastId === 0) return false;
  // The export thread writes the attempt as a varint (RecordEncoder): a whole number, not negative.
  if (!Number.isSafeInteger(a.attempt) || a.attempt < 0) return false;
  const strings = STRINGS;
  strings[0] = a.traceparent;
  strings[1] = a.spanId;
  strings[2] = a.workId;
  strings[3] = a.messageId;
  strings[4] = a.outcome;
  return out.write(baseId, firstId, lastId, a.start, a.end, a.attempt, strings, a.spanIdHi, a.spanIdLo);
}

/**
 * The own attributes of an ended attempt, in the order `writeEndedAttributes` sets them: work
 * id, attempt, message id, outcome.
 */
const OWN_KEYS = Object.keys(writeEndedAttributes({}, '', 0, '', ''));
/** Where the work id, message id and outcome (a record's last three strings) go among the values. */
const STRING_VALUES = [0, 4, 6];

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
  /**
   * The records' bytes (a {@link RecordBuffer}'s): in an ArrayBuffer of their own, or in a
   * slot of shared memory the sender handed out (`RecordSender.slot`).
   */
  readonly records: Uint8Array;
  /** Spans in all. */
  readonly count: number;
}

/**
 * The export thread's side: keeps the shared parts it was sent and turns batches into OTLP
 * trace requests, with the bytes the main thread's encoder would have written for them.
 */
export class RecordEncoder {
  readonly #encoder = new DirectSpanEncoder();
  readonly #values = new Map<number, unknown>();
  /** Span shapes by their shared parts' numbers (base, first event, last event). */
  readonly #shapes = new Map<number, SpanShape>();
  /**
   * Where the own attributes' values of the record being encoded are (pairs, see OWN_KEYS and
   * `DirectSpanEncoder.writeShapedRecord`), and its events' times.
   */
  readonly #ownAt: number[] = [0, 0, 0, -1, 0, 0, 0, 0];
  readonly #eventTimes = [0, 0];
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
    const { bytes, layout } = batch;
    const records = Buffer.from(batch.records.buffer, batch.records.byteOffset, batch.records.byteLength);
    // The numbers are read through a view (cheaper per call than Buffer's read methods).
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
    let at = 0;
    if (layout === undefined) {
      while (at < records.length) at = this.#record(records, view, at);
    } else {
      let from = 0;
      for (const length of layout) {
        if (length === 0) at = this.#record(records, view, at);
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

  /** A defined shared part. */
  #value<T>(id: unknown): T {
    const value = this.#values.get(id as number);
    if (value === undefined) throw new Error(`attempt record: shared part ${String(id)} is not defined`);
    return value as T;
  }

  /**
   * The record at `r[i…]` (written by {@link writeAttemptRecord}; `v` views the same bytes),
   * encoded as {@link fillAttemptFields} would have it encoded: through the shape of its shared
   * parts, written over the entry of the attempt before it when that one had the same shape and
   * values of the same sizes (`DirectSpanEncoder.writeShapedRecord`). Returns where the next
   * record starts.
   */
  #record(r: Buffer, v: DataView, i: number): number {
    const baseId = v.getUint16(i, true);
    const firstId = v.getUint16(i + 2, true);
    const lastId = v.getUint16(i + 4, true);
    // Numbers up to TABLE_LIMIT: one key for the three.
    const key = (baseId * (TABLE_LIMIT + 1) + firstId) * (TABLE_LIMIT + 1) + lastId;
    let shape = this.#shapes.get(key);
    if (shape === undefined) {
      const base = this.#value<SharedBase>(baseId);
      shape = this.#encoder.shape(
        base.name,
        ATTEMPT_KIND,
        base.attributes,
        attemptEvents([], 0, this.#value<Attributes>(firstId), 0, this.#value<Attributes>(lastId)),
      );
      if (this.#shapes.size < TABLE_LIMIT) this.#shapes.set(key, shape);
    }
    const start = v.getFloat64(i + 8, true);
    const end = endOf(start, v.getFloat64(i + 16, true));
    // The strings: traceparent, span id, work id, message id, outcome (u16 length, UTF-8).
    const values = this.#ownAt;
    let p = i + RECORD_FIXED;
    const traceparentAt = p + 2;
    p = traceparentAt + v.getUint16(p, true);
    const spanIdAt = p + 2;
    p = spanIdAt + v.getUint16(p, true);
    for (let k = 0; k < STRING_VALUES.length; k++) {
      const at = STRING_VALUES[k]!;
      values[at] = p + 2;
      p = p + 2 + v.getUint16(p, true);
      values[at + 1] = p;
    }
    values[2] = v.getFloat64(i + 24, true); // the attempt (values[3] stays -1: a number)
    const times = this.#eventTimes;
    times[0] = start;
    times[1] = end;
    let next: number;
    // Without room the entries grow, and the record is written again.
    while (
      (next = this.#encoder.writeShapedRecord(
        this.#entries,
        this.#length,
        shape,
        r,
        traceparentAt,
        spanIdAt,
        start,
        end,
        OWN_KEYS,
        values,
        times,
      )) < 0
    )
      this.#room(-next);
    this.#length = next;
    return p;
  }

  #room(n: number): void {
    if (this.#length + n > this.#entries.length) {
      const next = Buffer.allocUnsafe(Math.max(this.#entries.length * 2, this.#length + n));
      this.#entries.copy(next, 0, 0, this.#length);
      this.#entries = next;
    }
  }

  #append(entry: Uint8Array): void {
    const n = entry.length;
    this.#room(n);
    this.#entries.set(entry, this.#length);
    this.#length += n;
  }
}
