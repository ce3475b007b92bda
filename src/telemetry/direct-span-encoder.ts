// OTLP/protobuf encoding of direct work spans (direct-spans.ts, attempt-span.ts) on the main
// thread, into one reused buffer: each span's entry when its batch leaves the queue
// (`encodeSpanInPlace`, direct-span-queue.ts), then an `ExportTraceServiceRequest` around the
// batch (`wrap`) with the bytes the SDK's protobuf serializer writes for the same spans (same
// fields, order and rules), so the export thread only sends it.
// It is cheaper than handing whole spans to the thread and encoding them there because animus's
// spans repeat most of their content: the constant attribute sets and event attributes are
// frozen objects shared between spans, encoded once and copied afterwards, and names and keys
// are kept encoded too; spans that differ only in ids, times and own attributes (lazy attempts on
// the export thread) can be written from a shape encoded once (`shape`, `writeShapedRecord`).
// Field numbers are those of opentelemetry/proto's trace.proto.
import type { Attributes, HrTime, Link, SpanContext, SpanStatus } from '@opentelemetry/api';

/** What a direct span hands the encoder (see `DirectSpan.fillFields`). */
export interface DirectSpanFields {
  context: SpanContext;
  parent: SpanContext | undefined;
  name: string;
  kind: number;
  /**
   * As exporters read them (an end before the start is the start): epoch milliseconds, read
   * as the SDK's `millisToHrTime` reads them, or an HrTime.
   */
  startTime: number | HrTime;
  endTime: number | HrTime;
  base: Attributes;
  own: Attributes;
  droppedAttributes: number;
  /** Four entries per event: name, time (epoch ms or HrTime), attributes, dropped count. */
  events: readonly unknown[];
  droppedEvents: number;
  links: readonly Link[];
  droppedLinks: number;
  status: SpanStatus;
}

/** Fields of a span with nothing in them: an unnamed INTERNAL span, no parent, zero times. */
export function blankFields(): DirectSpanFields {
  return {
    context: { traceId: '', spanId: '', traceFlags: 0 },
    parent: undefined,
    name: '',
    kind: 0,
    startTime: [0, 0],
    endTime: [0, 0],
    base: {},
    own: {},
    droppedAttributes: 0,
    events: [],
    droppedEvents: 0,
    links: [],
    droppedLinks: 0,
    status: { code: 0 },
  };
}

/**
 * What spans of one shape share (see {@link DirectSpanEncoder.shape}), encoded once: `head` is
 * the name and kind, the start and end (zero, at `startAt` and `endAt`) and the constant
 * attributes; `tail` is everything after the span's own attributes, its events' times zero
 * (at `eventTimesAt`).
 */
export interface SpanShape {
  readonly head: Buffer;
  readonly startAt: number;
  readonly endAt: number;
  readonly tail: Buffer;
  readonly eventTimesAt: readonly number[];
}

/** A span the encoder can write: it fills in its fields when asked. */
export interface EncodableSpan {
  readonly resource: unknown;
  readonly instrumentationScope: { name: string; version?: string; schemaUrl?: string };
  fillFields(fields: DirectSpanFields): void;
}

const UNSET_STATUS: SpanStatus = Object.freeze({ code: 0 });
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const TWO_32 = 0x1_0000_0000;
const CACHE_LIMIT = 4096;
/**
 * Request buffers are made in multiples of this and at most this many kept for reuse: a new
 * buffer of a few hundred kB is fresh memory whose pages the first write faults in, about
 * 50-240 µs for a request of 270 kB on the machine measured, against 12 µs for a reused one.
 */
const POOLED_UNIT = 64 * 1024;
const POOL_SIZE = 4;

/** A hex digit's value (0-9, a-f; anything else as if A-F: code − 55). */
function digit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return code - 55;
}

/** `digit` of every code unit below 256, looked up instead of compared. */
const DIGITS = Int16Array.from({ length: 256 }, (_, code) => digit(code));

/** Copies the 8 bytes at `src[from…]` to `out[p…]`; returns the end. */
function copy8(out: Uint8Array, p: number, src: Uint8Array, from: number): number {
  for (let i = 0; i < 8; i++) out[p + i] = src[from + i]!;
  return p + 8;
}

/**
 * A time (epoch ms or HrTime) as seconds × 10⁹ + nanoseconds in a little-endian fixed64 at
 * `buf[p…p+8)`, exactly (no double rounding).
 */
function writeTime(buf: Uint8Array, p: number, time: number | HrTime): void {
  let seconds: number;
  let nanos: number;
  if (typeof time === 'number') {
    // The SDK's millisToHrTime, without its array.
    seconds = Math.trunc(time / 1000);
    nanos = Math.round((time % 1000) * 1e6);
  } else [seconds, nanos] = time;
  // Integer arithmetic in doubles below 2^53; divisions by powers of two are exact, so the
  // remainders are taken as x − ⌊x / m⌋·m (no fmod).
  const high16 = Math.floor(seconds / 0x10000);
  const low16 = seconds - high16 * 0x10000;
  const a = low16 * 1e9 + nanos; // < 2^53
  const b = high16 * 1e9; // < 2^53; the total is b·2^16 + a
  const bHigh = Math.floor(b / 0x10000);
  const aHigh = Math.floor(a / TWO_32);
  const lowSum = (b - bHigh * 0x10000) * 0x10000 + (a - aHigh * TWO_32);
  const sumHigh = Math.floor(lowSum / TWO_32);
  const lo = lowSum - sumHigh * TWO_32;
  const hi = bHigh + aHigh + sumHigh;
  for (let v = lo >>> 0, i = 0; i < 4; i++, v >>>= 8) buf[p++] = v & 0xff;
  for (let v = hi >>> 0, i = 0; i < 4; i++, v >>>= 8) buf[p++] = v & 0xff;
}

/** Bytes of `value` (below 2^53, not negative) as a varint. */
function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v = Math.floor(v / 128)) size++;
  return size;
}

/** Writes `value` (below 2^53, not negative) as a varint at `buf[p…]`; returns the end. */
function writeVarint(buf: Uint8Array, p: number, value: number): number {
  let v = value;
  while (v > 0x7f) {
    buf[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[p++] = v;
  return p;
}

/**
 * `n` bytes from the 2n hex digits at `src[from…]`, decoded as the encoder decodes an id's
 * string (`#hex`), written at `out[p…]`; returns the end.
 */
function hexInto(out: Uint8Array, p: number, src: Uint8Array, from: number, n: number): number {
  for (let i = from, last = from + 2 * n; i < last; i += 2)
    out[p++] = ((DIGITS[src[i]!]! << 4) | DIGITS[src[i + 1]!]!) & 0xff;
  return p;
}

/**
 * An entry `writeShapedRecord` wrote, as the start of the next ones of the same shape, keys and
 * value sizes: offsets are from the entry's start.
 */
interface RecordTemplate {
  readonly shape: SpanShape;
  readonly keys: readonly string[];
  /** Per own attribute: a string value's bytes, or minus an integer's varint size. */
  readonly sizes: readonly number[];
  readonly bytes: Buffer;
  /** The trace id's bytes (the span id's are 18 bytes on, the parent span id's 28). */
  readonly traceIdAt: number;
  readonly startAt: number;
  readonly endAt: number;
  readonly tailAt: number;
  /** Per own attribute: where its string's bytes or its integer's varint are. */
  readonly valueAt: readonly number[];
}

/**
 * The bytes of an own attribute's `AnyValue` (see `writeShapedRecord`): a string's
 * `src[from, to)`, or the integer `from` where `to` is -1.
 */
const ownValueBytes = (from: number, to: number): number =>
  to === -1 ? 1 + varintSize(from) : 1 + varintSize(to - from) + (to - from);

/** Whether a record's own values (see `writeShapedRecord`) have the sizes a template has. */
function sameSizes(sizes: readonly number[], values: readonly number[]): boolean {
  for (let k = 0; k < sizes.length; k++) {
    const from = values[2 * k]!;
    const to = values[2 * k + 1]!;
    if (sizes[k] !== (to === -1 ? -varintSize(from) : to - from)) return false;
  }
  return true;
}

/** Encodes direct spans as one OTLP/protobuf trace export request. Not reentrant. */
export class DirectSpanEncoder {
  #buf: Buffer = Buffer.allocUnsafe(256 * 1024);
  #pos = 0;
  /** Frozen attribute sets, encoded as repeated KeyValue under field 9 (span) or 3 (event). */
  readonly #sets = [new WeakMap<object, Buffer>(), new WeakMap<object, Buffer>()];
  #setCount = 0;
  /** One span's fields at a time (reused: no object per span). */
  readonly #fields: DirectSpanFields = blankFields();
  /** Strings (keys, names) encoded with their length prefix. */
  readonly #strings = new Map<string, Buffer>();
  /** The last entry `writeShapedRecord` wrote in full, with where its variable parts are. */
  #template: RecordTemplate | undefined;
  /** For a record's own attribute keys: each key's bytes up to its value (see `#keyHeads`). */
  #keyHeadsOf: readonly string[] | undefined;
  #keyHeadBytes: Buffer[] = [];
  /**
   * Whole events of a name and a frozen attribute set, encoded once with a zero time:
   * copied, and the time written into them, afterwards (animus's lifecycle events).
   */
  readonly #eventCache = new WeakMap<object, { name: string; bytes: Buffer; timeAt: number }>();
  /** The last span name and kind, encoded (spans in a row mostly share them). */
  #lastName = '';
  #lastKind = -1;
  #lastNameKind: Buffer | undefined;
  /** Request buffers sent and handed back (`recycle`). */
  readonly #pool: ArrayBuffer[] = [];
  /** The size of the largest request buffer made so far. */
  #largest = 0;

  /**
   * `n` bytes at the start of an ArrayBuffer of their own (transferable): one handed back
   * through {@link recycle} when one is large enough, else a new one as large as the largest
   * request so far (rounded up), so that later requests fit the buffers that come back.
   */
  #requestBuffer(n: number): Uint8Array<ArrayBuffer> {
    const pool = this.#pool;
    let buffer: ArrayBuffer | undefined;
    for (let i = 0; i < pool.length; i++)
      if (pool[i]!.byteLength >= n) {
        buffer = pool[i]!;
        pool.splice(i, 1);
        break;
      }
    if (buffer === undefined) {
      this.#largest = Math.max(this.#largest, Math.ceil(n / POOLED_UNIT) * POOLED_UNIT);
      buffer = new ArrayBuffer(this.#largest);
    }
    return new Uint8Array(buffer, 0, n);
  }

  /**
   * Takes back the buffer of a request made by {@link wrap} once it has been sent, for the next
   * requests (a few are kept; the rest are left to the collector).
   */
  recycle(buffer: ArrayBuffer): void {
    if (this.#pool.length < POOL_SIZE && buffer.byteLength > 0) this.#pool.push(buffer);
  }

  /**
   * One span's entry in `ScopeSpans.spans`: a view of the work buffer, valid until the next
   * call. For spans encoded one at a time and sent together in a request made by
   * {@link wrap}.
   */
  encodeSpan(span: EncodableSpan): Uint8Array {
    return this.#buf.subarray(0, this.encodeSpanInPlace(span));
  }

  /**
   * As {@link encodeSpan}, without a view: the entry is the first `n` bytes (the returned
   * length) of {@link workBuffer}, valid until the next call.
   */
  encodeSpanInPlace(span: EncodableSpan): number {
    this.#pos = 0;
    span.fillFields(this.#fields);
    this.#span(this.#fields);
    return this.#pos;
  }

  /**
   * The shape of spans that differ from each other only in their ids, times and own attributes
   * (see {@link writeShapedRecord}): sampled, with a remote parent, without trace state,
   * links, dropped attributes or events, status unset; `base` and the events' attributes frozen
   * sets. `events` as in {@link DirectSpanFields} (their times are filled in per span). What
   * {@link encodeSpanInPlace} writes for such a span, without the variable parts.
   */
  shape(name: string, kind: number, base: Attributes, events: readonly unknown[]): SpanShape {
    this.#pos = 0;
    const startAt = this.#head(name, kind, 0, 0, base);
    const head = Buffer.from(this.#buf.subarray(0, this.#pos));
    this.#pos = 0;
    const eventTimesAt: number[] = [];
    this.#tail(
      { droppedAttributes: 0, events, droppedEvents: 0, links: [], droppedLinks: 0, status: UNSET_STATUS },
      this.#flags(1, true),
      eventTimesAt,
    );
    const tail = Buffer.from(this.#buf.subarray(0, this.#pos));
    return { head, startAt, endAt: startAt + 9, tail, eventTimesAt };
  }

  /**
   * Writes the entry of a span of `shape` from an attempt record's bytes (attempt-record.ts) at
   * `out[at…]`, tag and length of `ScopeSpans.spans` included: the bytes {@link encodeSpanInPlace}
   * writes for the same span, without making strings of the record's: over a copy of the last
   * entry written in full when that had the same shape, keys and value sizes (consecutive
   * attempts of a queue mostly do), else in one pass, kept as the next template. The trace id
   * and parent span id are the hex digits of the version-00 traceparent at `src[traceparentAt…]`,
   * the span id the 8 bytes at `src[spanIdAt…]`; own attribute `keys[k]` is the UTF-8 string
   * `src[values[2k], values[2k+1])`, or, where `values[2k+1]` is -1, the integer `values[2k]`
   * (not negative, below 2^53: the record's writer checks it); `eventTimes` in the order of the
   * shape's events. Returns where the entry ends, or, when `out` has no room for it, minus the
   * bytes it needs (nothing written).
   */
  writeShapedRecord(
    out: Uint8Array,
    at: number,
    shape: SpanShape,
    src: Uint8Array,
    traceparentAt: number,
    spanIdAt: number,
    start: number,
    end: number,
    keys: readonly string[],
    values: readonly number[],
    eventTimes: readonly number[],
  ): number {
    const t = this.#template;
    if (t !== undefined && t.shape === shape && t.keys === keys && sameSizes(t.sizes, values)) {
      // The last record's entry, its variable parts written over.
      const n = t.bytes.length;
      if (at + n > out.length) return -n;
      out.set(t.bytes, at);
      hexInto(out, at + t.traceIdAt, src, traceparentAt + 3, 16);
      copy8(out, at + t.traceIdAt + 18, src, spanIdAt);
      hexInto(out, at + t.traceIdAt + 28, src, traceparentAt + 36, 8);
      const valueAt = t.valueAt;
      for (let k = 0; k < valueAt.length; k++) {
        const from = values[2 * k]!;
        const to = values[2 * k + 1]!;
        let q = at + valueAt[k]!;
        if (to === -1) writeVarint(out, q, from);
        else for (let i = from; i < to; i++) out[q++] = src[i]!;
      }
      this.#times(out, at + t.startAt, at + t.endAt, at + t.tailAt, shape, start, end, eventTimes);
      return at + n;
    }
    const heads = this.#keyHeads(keys);
    // Lengths first (every message's length is known before its bytes), then one pass.
    let own = 0;
    for (let k = 0; k < keys.length; k++) {
      const value = ownValueBytes(values[2 * k]!, values[2 * k + 1]!);
      const kv = heads[k]!.length + varintSize(value) + value;
      own += 1 + varintSize(kv) + kv;
    }
    const { head, tail } = shape;
    // trace_id (1), span_id (2), parent_span_id (4): a tag, a length and the bytes each.
    const span = 18 + 10 + 10 + head.length + own + tail.length;
    const total = 1 + varintSize(span) + span;
    if (at + total > out.length) return -total;
    let p = at;
    out[p++] = (2 << 3) | WIRE_LEN;
    p = writeVarint(out, p, span);
    out[p++] = (1 << 3) | WIRE_LEN;
    out[p++] = 16;
    const traceIdAt = p - at;
    p = hexInto(out, p, src, traceparentAt + 3, 16);
    out[p++] = (2 << 3) | WIRE_LEN;
    out[p++] = 8;
    p = copy8(out, p, src, spanIdAt);
    out[p++] = (4 << 3) | WIRE_LEN;
    out[p++] = 8;
    p = hexInto(out, p, src, traceparentAt + 36, 8);
    const startAt = p + shape.startAt;
    const endAt = p + shape.endAt;
    out.set(head, p);
    p += head.length;
    const sizes: number[] = [];
    const valueAt: number[] = [];
    for (let k = 0; k < keys.length; k++) {
      const from = values[2 * k]!;
      const to = values[2 * k + 1]!;
      const keyHead = heads[k]!;
      const value = ownValueBytes(from, to);
      out[p++] = (9 << 3) | WIRE_LEN;
      p = writeVarint(out, p, keyHead.length + varintSize(value) + value);
      out.set(keyHead, p);
      p = writeVarint(out, p + keyHead.length, value);
      if (to === -1) {
        out[p++] = (3 << 3) | WIRE_VARINT;
        sizes.push(-varintSize(from));
        valueAt.push(p - at);
        p = writeVarint(out, p, from);
      } else {
        out[p++] = (1 << 3) | WIRE_LEN;
        p = writeVarint(out, p, to - from);
        sizes.push(to - from);
        valueAt.push(p - at);
        for (let i = from; i < to; i++) out[p++] = src[i]!;
      }
    }
    const tailAt = p;
    out.set(tail, p);
    p += tail.length;
    this.#times(out, startAt, endAt, tailAt, shape, start, end, eventTimes);
    // Kept for the next records of this shape with values of these sizes (the usual next one).
    this.#template = {
      shape,
      keys,
      sizes,
      bytes: Buffer.from(out.subarray(at, p)),
      traceIdAt,
      startAt: startAt - at,
      endAt: endAt - at,
      tailAt: tailAt - at,
      valueAt,
    };
    return p;
  }

  /**
   * A shaped entry's times: the start and end at `startAt` and `endAt`, the events' in the
   * tail at `tailAt` (an event at the span's start or end, as an attempt's two are, copies
   * those bytes).
   */
  #times(
    out: Uint8Array,
    startAt: number,
    endAt: number,
    tailAt: number,
    shape: SpanShape,
    start: number,
    end: number,
    eventTimes: readonly number[],
  ): void {
    writeTime(out, startAt, start);
    writeTime(out, endAt, end);
    const times = shape.eventTimesAt;
    for (let i = 0; i < times.length; i++) {
      const time = eventTimes[i]!;
      const to = tailAt + times[i]!;
      const from = time === start ? startAt : time === end ? endAt : -1;
      if (from === -1) writeTime(out, to, time);
      else for (let j = 0; j < 8; j++) out[to + j] = out[from + j]!;
    }
  }

  /**
   * Each key's bytes in a KeyValue up to its value's length: the key (field 1) and the value's
   * tag (field 2), the same for every record with these keys.
   */
  #keyHeads(keys: readonly string[]): Buffer[] {
    if (this.#keyHeadsOf === keys) return this.#keyHeadBytes;
    const heads = keys.map((key) => {
      const from = this.#pos;
      this.#tag(1, WIRE_LEN);
      this.#string(key);
      this.#tag(2, WIRE_LEN);
      const bytes = Buffer.from(this.#buf.subarray(from, this.#pos));
      this.#pos = from;
      return bytes;
    });
    this.#keyHeadsOf = keys;
    this.#keyHeadBytes = heads;
    return heads;
  }

  /** Where {@link encodeSpanInPlace} wrote its entry (replaced when it grows). */
  get workBuffer(): Buffer {
    return this.#buf;
  }

  /**
   * The request for spans of one resource and scope already encoded by {@link encodeSpan}:
   * `entries` are their entries one after another.
   */
  wrap(
    resource: unknown,
    scope: EncodableSpan['instrumentationScope'],
    entries: Uint8Array,
  ): Uint8Array<ArrayBuffer> {
    // ResourceSpans { resource, scope_spans { scope, spans…, schema_url }, schema_url }: the
    // parts around the entries go into the work buffer first, so that the lengths are known
    // and the entries are copied once, straight into the request.
    this.#pos = 0;
    this.#resource(resource as { attributes?: Attributes });
    const resourceEnd = this.#pos;
    this.#scope(scope);
    const scopeEnd = this.#pos;
    if (scope.schemaUrl) {
      this.#tag(3, WIRE_LEN);
      this.#string(scope.schemaUrl);
    }
    const scopeUrlEnd = this.#pos;
    const resourceUrl = (resource as { schemaUrl?: string }).schemaUrl;
    if (resourceUrl) {
      this.#tag(3, WIRE_LEN);
      this.#string(resourceUrl);
    }
    const end = this.#pos;
    const scopeSpans = scopeUrlEnd - resourceEnd + entries.length;
    const resourceSpans = resourceEnd + 1 + varintSize(scopeSpans) + scopeSpans + (end - scopeUrlEnd);
    const out = this.#requestBuffer(1 + varintSize(resourceSpans) + resourceSpans);
    const work = this.#buf;
    out[0] = (1 << 3) | WIRE_LEN;
    let p = writeVarint(out, 1, resourceSpans);
    out.set(work.subarray(0, resourceEnd), p);
    p += resourceEnd;
    out[p++] = (2 << 3) | WIRE_LEN;
    p = writeVarint(out, p, scopeSpans);
    out.set(work.subarray(resourceEnd, scopeEnd), p);
    p += scopeEnd - resourceEnd;
    out.set(entries, p);
    p += entries.length;
    out.set(work.subarray(scopeEnd, end), p);
    return out;
  }

  /** The `scope` field of a `ScopeSpans`. */
  #scope(instrumentationScope: EncodableSpan['instrumentationScope']): void {
    const scope = instrumentationScope as {
      name: string;
      version?: string;
      attributes?: Attributes;
      droppedAttributesCount?: number;
    };
    this.#tag(1, WIRE_LEN);
    const scopeMessage = this.#open();
    this.#tag(1, WIRE_LEN);
    this.#string(scope.name);
    if (scope.version) {
      this.#tag(2, WIRE_LEN);
      this.#string(scope.version);
    }
    if (scope.attributes) this.#attributes(scope.attributes, 3);
    if (scope.droppedAttributesCount) {
      this.#tag(4, WIRE_VARINT);
      this.#varint(scope.droppedAttributesCount);
    }
    this.#close(scopeMessage);
  }

  #resource(resource: { attributes?: Attributes }): void {
    this.#tag(1, WIRE_LEN);
    const at = this.#open();
    if (resource.attributes) this.#attributes(resource.attributes, 1);
    this.#tag(2, WIRE_VARINT);
    this.#varint(0);
    this.#close(at);
  }

  #span(f: DirectSpanFields): void {
    this.#tag(2, WIRE_LEN);
    const at = this.#openWide();
    const ctx = f.context;
    this.#ids(ctx);
    if (f.parent?.spanId) {
      this.#tag(4, WIRE_LEN);
      this.#hex(f.parent.spanId);
    }
    this.#head(f.name, f.kind, f.startTime, f.endTime, f.base);
    this.#attributes(f.own, 9);
    this.#tail(f, this.#flags(ctx.traceFlags, f.parent?.isRemote), undefined);
    this.#closeWide(at);
  }

  /**
   * Fields 5-9 of a span up to its own attributes: name, kind, start, end, the constant
   * attributes. Returns where the start's eight bytes are (the end's follow nine bytes later).
   */
  #head(name: string, kind: number, start: number | HrTime, end: number | HrTime, base: Attributes): number {
    this.#nameAndKind(name, kind);
    this.#tag(7, WIRE_FIXED64);
    const startAt = this.#pos;
    this.#time(start);
    this.#tag(8, WIRE_FIXED64);
    this.#time(end);
    this.#attributes(base, 9);
    return startAt;
  }

  /**
   * Fields 10-16 of a span, after its own attributes: dropped attributes, events, dropped
   * events, links, dropped links, status, flags; where each event's time is goes into
   * `eventTimesAt` when given.
   */
  #tail(
    f: Pick<
      DirectSpanFields,
      'droppedAttributes' | 'events' | 'droppedEvents' | 'links' | 'droppedLinks' | 'status'
    >,
    flags: number,
    eventTimesAt: number[] | undefined,
  ): void {
    this.#tag(10, WIRE_VARINT);
    this.#varint(f.droppedAttributes);
    const ev = f.events;
    for (let i = 0; i < ev.length; i += 4) {
      const from = this.#pos;
      if (typeof ev[i + 1] !== 'number' || ev[i + 3] !== 0 || !this.#cachedEvent(ev, i))
        this.#event(
          ev[i] as string,
          ev[i + 1] as number | HrTime,
          ev[i + 2] as Attributes,
          ev[i + 3] as number,
        );
      eventTimesAt?.push(from + this.#eventTimeAt(from));
    }
    this.#tag(12, WIRE_VARINT);
    this.#varint(f.droppedEvents);
    for (const link of f.links) this.#link(link);
    this.#tag(14, WIRE_VARINT);
    this.#varint(f.droppedLinks);
    this.#tag(15, WIRE_LEN);
    const status = this.#open();
    if (f.status.message) {
      this.#tag(2, WIRE_LEN);
      this.#string(f.status.message);
    }
    this.#tag(3, WIRE_VARINT);
    this.#varint(f.status.code);
    this.#close(status);
    this.#tag(16, WIRE_FIXED32);
    this.#fixed32(flags);
  }

  /** Fields 5 and 6 (name, kind), the last pair kept encoded. */
  #nameAndKind(name: string, kind: number): void {
    if (name !== this.#lastName || kind !== this.#lastKind || this.#lastNameKind === undefined) {
      const from = this.#pos;
      this.#tag(5, WIRE_LEN);
      this.#cachedString(name);
      this.#tag(6, WIRE_VARINT);
      this.#varint(kind + 1);
      this.#lastNameKind = Buffer.from(this.#buf.subarray(from, this.#pos));
      this.#lastName = name;
      this.#lastKind = kind;
      return;
    }
    this.#bytes(this.#lastNameKind);
  }

  /**
   * Event `i` of `ev` (a time in epoch ms, nothing dropped) from the event cache when its
   * attributes are a frozen set; false when they are not (the caller encodes it field by field).
   */
  #cachedEvent(ev: readonly unknown[], i: number): boolean {
    const attributes = ev[i + 2] as Attributes;
    if (!Object.isFrozen(attributes)) return false;
    const name = ev[i] as string;
    let cached = this.#eventCache.get(attributes);
    if (cached === undefined || cached.name !== name) {
      if (this.#setCount >= CACHE_LIMIT) return false;
      const from = this.#pos;
      this.#event(name, 0, attributes, 0);
      cached = {
        name,
        bytes: Buffer.from(this.#buf.subarray(from, this.#pos)),
        timeAt: this.#eventTimeAt(from),
      };
      this.#eventCache.set(attributes, cached);
      this.#setCount++;
      this.#pos = from;
    }
    const at = this.#pos + cached.timeAt;
    this.#bytes(cached.bytes);
    writeTime(this.#buf, at, ev[i + 1] as number);
    return true;
  }

  /** Where the time of the event written at `from` is, from there. */
  #eventTimeAt(from: number): number {
    // The time follows the event's tag, its length (a varint) and the time's tag.
    let timeAt = 1;
    while ((this.#buf[from + timeAt]! & 0x80) !== 0) timeAt++;
    return timeAt + 2;
  }

  /** One event (field 11 of a span), field by field. */
  #event(name: string, time: number | HrTime, attributes: Attributes, dropped: number): void {
    this.#tag(11, WIRE_LEN);
    const event = this.#open();
    this.#tag(1, WIRE_FIXED64);
    this.#time(time);
    this.#tag(2, WIRE_LEN);
    this.#cachedString(name);
    this.#attributes(attributes, 3);
    this.#tag(4, WIRE_VARINT);
    this.#varint(dropped);
    this.#close(event);
  }

  #link(link: Link): void {
    this.#tag(13, WIRE_LEN);
    const at = this.#open();
    const ctx = link.context;
    this.#ids(ctx);
    if (link.attributes) this.#attributes(link.attributes, 4);
    this.#tag(5, WIRE_VARINT);
    this.#varint(link.droppedAttributesCount ?? 0);
    this.#tag(6, WIRE_FIXED32);
    this.#fixed32(this.#flags(ctx.traceFlags, ctx.isRemote));
    this.#close(at);
  }

  /** Fields 1-3 of a span and of a link alike: trace id, span id, trace state (if any). */
  #ids(ctx: SpanContext): void {
    this.#tag(1, WIRE_LEN);
    this.#hex(ctx.traceId);
    this.#tag(2, WIRE_LEN);
    this.#hex(ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) {
      this.#tag(3, WIRE_LEN);
      this.#string(traceState);
    }
  }

  #flags(traceFlags: number, isRemote: boolean | undefined): number {
    return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
  }

  /** Repeated KeyValue under `field`; a frozen set is encoded once and copied afterwards. */
  #attributes(attributes: Attributes, field: 9 | 3 | 4 | 1): void {
    const frozen = (field === 9 || field === 3) && Object.isFrozen(attributes);
    if (frozen) {
      const cache = this.#sets[field === 9 ? 0 : 1]!;
      const bytes = cache.get(attributes);
      if (bytes !== undefined) {
        this.#bytes(bytes);
        return;
      }
      const from = this.#pos;
      this.#keyValues(attributes, field);
      if (this.#setCount < CACHE_LIMIT) {
        cache.set(attributes, Buffer.from(this.#buf.subarray(from, this.#pos)));
        this.#setCount++;
      }
      return;
    }
    this.#keyValues(attributes, field);
  }

  #keyValues(attributes: Attributes, field: number): void {
    for (const key in attributes) {
      if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
      this.#tag(field, WIRE_LEN);
      const kv = this.#open();
      this.#tag(1, WIRE_LEN);
      this.#cachedString(key);
      this.#tag(2, WIRE_LEN);
      const value = this.#open();
      this.#anyValue(attributes[key]);
      this.#close(value);
      this.#close(kv);
    }
  }

  /** An AnyValue, by the SDK serializer's rules (integers in int64 range as int, else double). */
  #anyValue(value: unknown): void {
    const t = typeof value;
    if (t === 'string') {
      this.#tag(1, WIRE_LEN);
      this.#string(value as string);
    } else if (t === 'boolean') {
      this.#tag(2, WIRE_VARINT);
      this.#varint(value ? 1 : 0);
    } else if (t === 'number') {
      const n = value as number;
      if (Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63) {
        this.#tag(3, WIRE_VARINT);
        this.#varint(n);
      } else {
        this.#tag(4, WIRE_FIXED64);
        this.#ensure(8);
        this.#buf.writeDoubleLE(n, this.#pos);
        this.#pos += 8;
      }
    } else if (value instanceof Uint8Array) {
      this.#tag(7, WIRE_LEN);
      this.#varint(value.length);
      this.#ensure(value.length);
      this.#buf.set(value, this.#pos);
      this.#pos += value.length;
    } else if (Array.isArray(value)) {
      this.#tag(5, WIRE_LEN);
      const array = this.#open();
      for (const item of value) {
        this.#tag(1, WIRE_LEN);
        const at = this.#open();
        this.#anyValue(item);
        this.#close(at);
      }
      this.#close(array);
    } else if (t === 'object' && value !== null) {
      this.#tag(6, WIRE_LEN);
      const list = this.#open();
      const obj = value as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
        this.#tag(1, WIRE_LEN);
        const kv = this.#open();
        this.#tag(1, WIRE_LEN);
        this.#string(k);
        this.#tag(2, WIRE_LEN);
        const inner = this.#open();
        this.#anyValue(obj[k]);
        this.#close(inner);
        this.#close(kv);
      }
      this.#close(list);
    }
  }

  // --- the wire format ---------------------------------------------------------------------

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #tag(field: number, wire: number): void {
    this.#varint((field << 3) | wire);
  }

  /** Unsigned varint; negative numbers as 64-bit two's complement (ten bytes). */
  #varint(value: number): void {
    this.#ensure(10);
    const buf = this.#buf;
    if (value >= 0 && value < 0x80) {
      buf[this.#pos++] = value;
      return;
    }
    if (value >= 0 && value < TWO_32) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.#pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.#pos++] = v;
      return;
    }
    let lo: number;
    let hi: number;
    if (value >= 0) {
      lo = value >>> 0;
      hi = Math.floor(value / TWO_32) >>> 0;
    } else {
      const abs = -value;
      lo = abs >>> 0;
      hi = Math.floor(abs / TWO_32) >>> 0;
      // Two's complement of the 64-bit magnitude.
      lo = ~lo >>> 0;
      hi = ~hi >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    while (hi > 0 || lo > 0x7f) {
      buf[this.#pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.#pos++] = lo;
  }

  #fixed32(value: number): void {
    this.#ensure(4);
    this.#buf.writeUInt32LE(value >>> 0, this.#pos);
    this.#pos += 4;
  }

  /** A time (epoch ms or HrTime) as a fixed64 of nanoseconds ({@link writeTime}). */
  #time(time: number | HrTime): void {
    this.#ensure(8);
    writeTime(this.#buf, this.#pos, time);
    this.#pos += 8;
  }

  /**
   * An id's hex digits as bytes (16 or 8), decoded as the SDK's serializer decodes them: every
   * pair, lower- or upper-case, anything else mapped by the same arithmetic.
   */
  #hex(hex: string): void {
    const n = Math.floor(hex.length / 2);
    this.#varint(n);
    this.#ensure(n);
    const buf = this.#buf;
    let p = this.#pos;
    for (let i = 0; i < 2 * n; i += 2) {
      const hi = hex.charCodeAt(i);
      const lo = hex.charCodeAt(i + 1);
      buf[p++] = (((hi < 256 ? DIGITS[hi]! : hi - 55) << 4) | (lo < 256 ? DIGITS[lo]! : lo - 55)) & 0xff;
    }
    this.#pos = p;
  }

  #string(s: string): void {
    const len = s.length;
    // Written as ASCII in one pass; at the first other character, written again as UTF-8.
    const start = this.#pos;
    this.#varint(len);
    this.#ensure(len);
    const buf = this.#buf;
    let p = this.#pos;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      buf[p++] = c;
    }
    if (i === len) {
      this.#pos = p;
      return;
    }
    this.#pos = start;
    const bytes = Buffer.from(s, 'utf8');
    this.#varint(bytes.length);
    this.#bytes(bytes);
  }

  /** A string kept encoded (names, keys: few distinct ones). */
  #cachedString(s: string): void {
    const bytes = this.#strings.get(s);
    if (bytes === undefined) {
      const from = this.#pos;
      this.#string(s);
      if (this.#strings.size < CACHE_LIMIT)
        this.#strings.set(s, Buffer.from(this.#buf.subarray(from, this.#pos)));
      return;
    }
    this.#bytes(bytes);
  }

  #bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.#ensure(n);
    // Short runs (names, keys, small attribute sets) copy faster in a loop than through set().
    if (n <= 64) {
      const buf = this.#buf;
      let p = this.#pos;
      for (let i = 0; i < n; i++) buf[p++] = bytes[i]!;
      this.#pos = p;
      return;
    }
    this.#buf.set(bytes, this.#pos);
    this.#pos += n;
  }

  /** Starts a length-delimited message: one byte kept for its length. */
  #open(): number {
    this.#ensure(1);
    return this.#pos++;
  }

  /**
   * Starts a message that is likely 128 bytes or longer (a span): two bytes kept for its length,
   * so that the usual case moves nothing on close.
   */
  #openWide(): number {
    this.#ensure(2);
    const at = this.#pos;
    this.#pos += 2;
    return at;
  }

  /** Closes a message opened by `#openWide`: its length in as few bytes as the SDK writes it. */
  #closeWide(at: number): void {
    const length = this.#pos - at - 2;
    if (length >= 0x80 && length < 0x4000) {
      this.#buf[at] = (length & 0x7f) | 0x80;
      this.#buf[at + 1] = length >>> 7;
      return;
    }
    // One byte (short) or three and more (long): moved into place as `#close` would have it.
    this.#buf.copyWithin(at + 1, at + 2, this.#pos);
    this.#pos--;
    this.#close(at);
  }

  /** Writes the length of the message opened at `at`, moving it if the length needs more bytes. */
  #close(at: number): void {
    const length = this.#pos - at - 1;
    if (length < 0x80) {
      this.#buf[at] = length;
      return;
    }
    const size = varintSize(length);
    this.#ensure(size - 1);
    this.#buf.copyWithin(at + size, at + 1, this.#pos);
    this.#pos += size - 1;
    writeVarint(this.#buf, at, length);
  }
}
