// The shapes of work: what a caller submits, what a worker receives, what a row holds.
import type pg from 'pg';

/** Lifecycle states of a work item. */
export type WorkState = 'queued' | 'running' | 'completed' | 'dead' | 'cancelled' | 'merged';

/** States in which an item holds its dedup key. */
export const ACTIVE_STATES: readonly WorkState[] = ['queued', 'running'];

/** JSON values accepted in params, trigger info and outcomes. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Anything that can run a query: a pool, or a caller's client inside a transaction. */
export interface Queryable {
  query: pg.Pool['query'];
}

/** Options every write accepts. */
export interface WriteOptions {
  /** Run inside the caller's transaction (a client on which the caller ran BEGIN). */
  tx?: Queryable;
}

/** A unit of work to submit. */
export interface SubmitItem {
  /** pgmq queue. Default `work`. The queue must exist (created by `start()` or `createQueue`). */
  queue?: string;
  /** What kind of work; selects the handler. Required. */
  workType: string;
  /** Structural dedup key: while an item with this (workType, dedupKey) is active, submits merge into it. */
  dedupKey?: string;
  /** Where the work came from (webhook, schedule, person, agent). Required. */
  source: string;
  /** Details of the trigger (event id, schedule name …), kept as provenance. */
  triggerInfo?: Json;
  /** Handler input. Default `{}`. */
  params?: Json;
  /** Stored with the item; ordering by priority is not implemented yet. Default 0. */
  priority?: number;
  /** Attempts before the item is dead. Default 3. */
  maxAttempts?: number;
  /** Seconds before the item becomes visible, or the moment it does. Default 0. */
  delay?: number | Date;
  /** The item that spawned this one. */
  parentId?: string;
}

/** Result of a submit. */
export type SubmitResult =
  { status: 'queued'; id: string; msgId: bigint } | { status: 'merged'; id: string; mergedInto: string };

/** A work item row. */
export interface WorkItem {
  id: string;
  pgmqMsgId: bigint | null;
  queue: string;
  workType: string;
  dedupKey: string | null;
  source: string;
  triggerInfo: Json | null;
  params: Json;
  priority: number;
  state: WorkState;
  mergedInto: string | null;
  parentId: string | null;
  attempts: number;
  maxAttempts: number;
  outcomeData: Json | null;
  outcomeError: string | null;
  outcomeMs: number | null;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
}

/** An item claimed by `read`: running, with the message it came with. */
export interface ClaimedItem {
  id: string;
  queue: string;
  workType: string;
  dedupKey: string | null;
  source: string;
  triggerInfo: Json | null;
  params: Json;
  priority: number;
  parentId: string | null;
  /** This attempt's number (1 for the first). */
  attempts: number;
  maxAttempts: number;
  createdAt: Date;
  msgId: bigint;
  /** How many times pgmq delivered the message, this time included. */
  readCount: number;
  /** pgmq message headers (trace context lives here). */
  headers: Record<string, unknown>;
  /** When the claim was made (for outcome duration). */
  claimedAt: number;
}

/** Filter for `list`. */
export interface WorkFilter {
  state?: WorkState | WorkState[];
  workType?: string;
  queue?: string;
  source?: string;
  /** Newest first; at most this many (1..1000). Default 100. */
  limit?: number;
  /** Only items created before this time (for paging). */
  before?: Date;
}
