// The light span-in-context of the work-span paths answers as the API's own contexts do.
import { createContextKey, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { withSpan } from '../../src/telemetry/span-context.js';
import { startWorkSpan } from '../../src/telemetry/work-spans.js';

const spanOf = (id: string) =>
  trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: id.repeat(16), traceFlags: 1 });

describe('withSpan', () => {
  const key = createContextKey('animus test key');
  const other = createContextKey('animus other key');
  const parentSpan = spanOf('1');
  const span = spanOf('2');
  const parent = trace.setSpan(ROOT_CONTEXT.setValue(key, 'from parent'), parentSpan);

  it('gives the span and the parent’s other values, as trace.setSpan does', () => {
    const light = withSpan(parent, span);
    const api = trace.setSpan(parent, span);
    expect(trace.getSpan(light)).toBe(span);
    expect(light.getValue(key)).toBe('from parent');
    expect(light.getValue(other)).toBeUndefined();
    for (const k of [key, other]) expect(light.getValue(k)).toBe(api.getValue(k));
    // The parent is not changed.
    expect(trace.getSpan(parent)).toBe(parentSpan);
  });

  it('builds ordinary contexts on top of it that keep the span', () => {
    const light = withSpan(parent, span);
    const set = light.setValue(other, 42);
    expect(set.getValue(other)).toBe(42);
    expect(trace.getSpan(set)).toBe(span);
    expect(set.getValue(key)).toBe('from parent');
    expect(light.getValue(other)).toBeUndefined();
    const deleted = light.deleteValue(key);
    expect(deleted.getValue(key)).toBeUndefined();
    expect(trace.getSpan(deleted)).toBe(span);
    expect(trace.getSpan(trace.deleteSpan(light))).toBeUndefined();
    expect(trace.getSpan(trace.setSpan(light, parentSpan))).toBe(parentSpan);
  });

  it('is what a submit span’s context is, built when first read', () => {
    const producer = startWorkSpan({ queue: 'q', workType: 't', parent });
    expect(trace.getSpan(producer.context)).toBe(producer.span);
    expect(producer.context.getValue(key)).toBe('from parent');
    expect(producer.context).toBe(producer.context);
  });
});
