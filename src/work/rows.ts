// Row mapping between Postgres and the work module's TypeScript shapes.
import type { ClaimedItem, Json, WorkItem, WorkState } from './types.js';

/** Raw `work_items` row as `pg` returns it. */
export interface WorkRow {
  id: string;
  pgmq_msg_id: string | null;
  queue_name: string;
  work_type: string;
  dedup_key: string | null;
  source: string;
  trigger_info: Json | null;
  params: Json;
  priority: number;
  state: WorkState;
  merged_into: string | null;
  parent_id: string | null;
  attempts: number;
  max_attempts: number;
  outcome_data: Json | null;
  outcome_error: string | null;
  outcome_ms: string | null;
  created_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
}

export function toWorkItem(r: WorkRow): WorkItem {
  return {
    id: r.id,
    pgmqMsgId: r.pgmq_msg_id === null ? null : BigInt(r.pgmq_msg_id),
    queue: r.queue_name,
    workType: r.work_type,
    dedupKey: r.dedup_key,
    source: r.source,
    triggerInfo: r.trigger_info,
    params: r.params,
    priority: r.priority,
    state: r.state,
    mergedInto: r.merged_into,
    parentId: r.parent_id,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    outcomeData: r.outcome_data,
    outcomeError: r.outcome_error,
    outcomeMs: r.outcome_ms === null ? null : Number(r.outcome_ms),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    resolvedAt: r.resolved_at,
  };
}

/** Raw row of `animus_work_claim`. */
export interface ClaimRow {
  id: string;
  queue_name: string;
  work_type: string;
  dedup_key: string | null;
  source: string;
  trigger_info: Json | null;
  params: Json;
  priority: number;
  parent_id: string | null;
  attempts: number;
  max_attempts: number;
  created_at: Date;
  msg_id: string;
  read_ct: number;
  headers: Record<string, unknown> | null;
}

export function toClaimed(r: ClaimRow, claimedAt: number): ClaimedItem {
  return {
    id: r.id,
    queue: r.queue_name,
    workType: r.work_type,
    dedupKey: r.dedup_key,
    source: r.source,
    triggerInfo: r.trigger_info,
    params: r.params,
    priority: r.priority,
    parentId: r.parent_id,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    createdAt: r.created_at,
    msgId: BigInt(r.msg_id),
    readCount: r.read_ct,
    headers: r.headers ?? {},
    claimedAt,
  };
}
