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
  /**
   * '' when `traceparent` is the parent; else the trace id of an attempt without one (its
   * message's traceparent had the form but not the digits of one: a root span, as the W3C
   * propagator would leave it), and `traceparent` is not read.
   */
  rootTraceId: string;
  /**
   * Whether `traceparent`'s ids have not been checked yet (only its form was, and `rootTraceId`
   * is ''): a record checks the digits it wrote and is not written when they are not valid.
   */
  idsUnchecked: boolean;
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
  const { traceparent, start, rootTraceId } = a;
  const traceId = rootTraceId === '' ? traceparent.slice(3, 35) : rootTraceId;
  const ctx = FILL.context as { traceId: string; spanId: string };
  ctx.traceId = traceId;
  ctx.spanId = a.spanId;
  f.context = FILL.context;
  if (rootTraceId === '') {
    const parent = FILL.parent as { traceId: string; spanId: string };
    parent.traceId = traceId;
    parent.spanId = traceparent.slice(36, 52);
    f.parent = FILL.parent;
  } else f.parent = undefined;
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
 * each) and two bytes unused; start, end and attempt (float64 each); the span id's 8 bytes, in
 * order; the byte lengths of its four strings (u16 each: traceparent, work id, message id,
 * outcome). The strings' UTF-8 bytes follow, one after another.
 */
const RECORD_FIXED = 48;
/** Where the span id's bytes and the strings' lengths are in a record. */
const SPAN_ID_AT = 32;
const LENGTHS_AT = 40;

/**
 * Records one after another, as bytes in a buffer of their own that grows as needed (records
 * are appended with {@link writeAttemptRecord}). Offsets are byte offsets.
 */
export class RecordBuffer {
  #bytes: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  /** The same bytes, for the numbers (cheaper per call than Buffer's write methods). */
  #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength);
  #length = 0;
  /** Where the last record written starts. */
  #last = 0;
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

  /**
   * Appends one record (see {@link RECORD_FIXED}); the span id is `idHi:idLo`. False, with
   * nothing written, when a string is longer than 65535 bytes.
   */
  write(
    baseId: number,
    firstId: number,
    lastId: number,
    a: EndedAttempt,
    idHi: number,
    idLo: number,
  ): boolean {
    const { traceparent, workId, messageId, outcome } = a;
    // The four strings in one pass through the UTF-8 encoder (a native call each costs about as
    // much as copying a string in a loop). They are ASCII (hex, a UUID, digits, a word), so
    // their lengths are their byte lengths, unless a caller's ids are not: then each is counted.
    const joined = traceparent + workId + messageId + outcome;
    const at = this.#length;
    const buf = this.#ensure(RECORD_FIXED + 3 * joined.length);
    const n = buf.write(joined, at + RECORD_FIXED);
    const ascii = n === joined.length;
    const l0 = ascii ? traceparent.length : Buffer.byteLength(traceparent);
    const l1 = ascii ? workId.length : Buffer.byteLength(workId);
    const l2 = ascii ? messageId.length : Buffer.byteLength(messageId);
    const l3 = ascii ? outcome.length : Buffer.byteLength(outcome);
    if (l0 > 0xffff || l1 > 0xffff || l2 > 0xffff || l3 > 0xffff) return false;
    const view = this.#view;
    view.setUint16(at, baseId, true);
    view.setUint16(at + 2, firstId, true);
    view.setUint16(at + 4, lastId, true);
    view.setFloat64(at + 8, a.start, true);
    view.setFloat64(at + 16, a.end, true);
    view.setFloat64(at + 24, a.attempt, true);
    // Big-endian: the id's bytes in the order OTLP has them.
    view.setUint32(at + SPAN_ID_AT, idHi);
    view.setUint32(at + SPAN_ID_AT + 4, idLo);
    view.setUint16(at + LENGTHS_AT, l0, true);
    view.setUint16(at + LENGTHS_AT + 2, l1, true);
    view.setUint16(at + LENGTHS_AT + 4, l2, true);
    view.setUint16(at + LENGTHS_AT + 6, l3, true);
    this.#last = at;
    this.#length = at + RECORD_FIXED + n;
    this.count++;
    return true;
  }

  /**
   * Whether the last record's traceparent has valid ids: 55 bytes whose trace id (32 digits) and
   * parent span id (16) are lowercase hex, neither all zeros, as the W3C propagator requires
   * (its form was checked as its attempt began). Read from the bytes just written (call it right
   * after the write): cheaper than from the string.
   */
  lastIdsValid(): boolean {
    const at = this.#last;
    if (this.#view.getUint16(at + LENGTHS_AT, true) !== 55) return false;
    const bytes = this.#bytes;
    const p = at + RECORD_FIXED;
    return nonZeroHexBytes(bytes, p + 3, p + 35) && nonZeroHexBytes(bytes, p + 36, p + 52);
  }

  /** Takes back the last record written (once, right after it). */
  dropLast(): void {
    this.#length = this.#last;
    this.count--;
  }
}

/** 1 for the bytes of lowercase hex digits, 0 for the others. */
const LOWER_HEX_BYTES = Uint8Array.from({ length: 256 }, (_, c) =>
  (c >= 48 && c <= 57) || (c >= 97 && c <= 102) ? 1 : 0,
);

/** Whether `bytes[from, to)` are lowercase hex digits, not all zeros ('0' is 48). */
function nonZeroHexBytes(bytes: Uint8Array, from: number, to: number): boolean {
  let hex = 1;
  let bits = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    hex &= LOWER_HEX_BYTES[c]!;
    bits |= c ^ 48;
  }
  return hex === 1 && bits !== 0;
}

/** A span id's 16 hex digits as its high and low 32 bits; undefined when they are not hex. */
function idWords(spanId: string): [number, number] | undefined {
  if (!/^[0-9a-f]{16}$/.test(spanId)) return undefined;
  return [parseInt(spanId.slice(0, 8), 16), parseInt(spanId.slice(8), 16)];
}

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
  /**
   * The last parts numbered, and their numbers: a record looks up its queue's base and its two
   * event attribute sets, mostly the same three as the record before (a look-up in the map
   * costs more than the rest of a record's bookkeeping). Replaced in turn.
   */
  readonly #recent: Array<object | undefined> = [undefined, undefined, undefined];
  readonly #recentIds = [0, 0, 0];
  #nextRecent = 0;

  /** The number of a frozen attribute set; 0 once the table is full. */
  attributes(attributes: Attributes): number {
    return this.#id(attributes, KIND_ATTRIBUTES);
  }

  /** The number of a queue's constant part; 0 once the table is full. */
  base(base: SharedBase): number {
    return this.#id(base, KIND_BASE);
  }

  #id(key: object, kind: number): number {
    const recent = this.#recent;
    for (let k = 0; k < recent.length; k++) if (recent[k] === key) return this.#recentIds[k]!;
    let id = this.#ids.get(key);
    if (id === undefined) {
      if (this.#next > TABLE_LIMIT) return 0;
      id = this.#next++;
      this.#ids.set(key, id);
      const base = key as SharedBase;
      this.#definitions.push(id, kind, kind === KIND_BASE ? [base.name, base.attributes] : key);
    }
    const slot = this.#nextRecent;
    recent[slot] = key;
    this.#recentIds[slot] = id;
    this.#nextRecent = (slot + 1) % recent.length;
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
 * full, a string is longer than a record holds, the attempt is not a whole number ≥ 0, or its
 * traceparent's ids, not checked yet (`idsUnchecked`), are not valid.
 */
export function writeAttemptRecord(out: RecordBuffer, table: RecordTable, a: EndedAttempt): boolean {
  // A record's span is its traceparent's child (the thread reads the ids from its digits).
  if (a.rootTraceId !== '') return false;
  const baseId = table.base(a.base);
  const firstId = table.attributes(a.firstEvent);
  const lastId = table.attributes(a.lastEvent);
  if (baseId === 0 || firstId === 0 || lastId === 0) return false;
  // The export thread writes the attempt as a varint (RecordEncoder): a whole number, not negative.
  if (!Number.isSafeInteger(a.attempt) || a.attempt < 0) return false;
  let written: boolean;
  if (a.spanId === '') written = out.write(baseId, firstId, lastId, a, a.spanIdHi, a.spanIdLo);
  else {
    const words = idWords(a.spanId);
    written = words !== undefined && out.write(baseId, firstId, lastId, a, words[0], words[1]);
  }
  if (!written || !a.idsUnchecked || out.lastIdsValid()) return written;
  // Ids that are not valid: the attempt is a root span, which is not a record.
  out.dropLast();
  return false;
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
    // The strings, one after another: traceparent, work id, message id, outcome.
    const values = this.#ownAt;
    const traceparentAt = i + RECORD_FIXED;
    let p = traceparentAt + v.getUint16(i + LENGTHS_AT, true);
    for (let k = 0; k < STRING_VALUES.length; k++) {
      const at = STRING_VALUES[k]!;
      values[at] = p;
      p += v.getUint16(i + LENGTHS_AT + 2 + 2 * k, true);
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
        i + SPAN_ID_AT,
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
