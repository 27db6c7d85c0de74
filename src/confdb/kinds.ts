/**
 * The record kinds of the ConfDB, the key of each, and the shape of a batch:
 * shared by the store interface (db.ts) and both engines (level.ts, postgres.ts).
 */
import { newId } from './ids.js';
import type {
  AgentRecord,
  AuditRecord,
  ConfigRecord,
  DeviceRecord,
  EvaluationRecord,
  JobRecord,
  PinRecord,
  ResultRecord,
  TraceRecord,
  WorkloadRecord,
} from './records.js';

export const KINDS = ['workloads', 'configs', 'evaluations', 'devices', 'jobs', 'traces', 'audit', 'pins', 'results', 'agents'] as const;
export type Kind = (typeof KINDS)[number];
export interface RecordOf {
  workloads: WorkloadRecord;
  configs: ConfigRecord;
  evaluations: EvaluationRecord;
  devices: DeviceRecord;
  jobs: JobRecord;
  traces: TraceRecord;
  audit: AuditRecord;
  pins: PinRecord;
  results: ResultRecord;
  agents: AgentRecord;
}
/** The key of each record kind. */
export const keyOf: { [K in Kind]: (r: RecordOf[K]) => string } = {
  workloads: (r) => r.id,
  configs: (r) => r.id,
  evaluations: (r) => r.id,
  devices: (r) => r.device,
  jobs: (r) => r.id,
  traces: (r) => r.id,
  audit: (r) => r.id,
  pins: (r) => r.id,
  results: (r) => r.id,
  agents: (r) => r.id,
};

/** One write in a batch: put a record of a kind, or delete a key. */
export type BatchOp = { [K in Kind]: { kind: K; type: 'put'; value: RecordOf[K] } | { kind: K; type: 'del'; key: string } }[Kind];

export interface ListOptions {
  limit?: number;
  /** Start after this key (pagination). */
  after?: string;
  reverse?: boolean;
}

/** An audit record to add to the batch of the change it describes. */
export function auditOp(actor: string, action: string, details: Record<string, unknown>): BatchOp {
  return { kind: 'audit', type: 'put', value: { id: newId(), at: new Date().toISOString(), actor, action, details } };
}

/** The key of the pin of a workload in a space on a device class ('*': every class). */
export function pinKey(workloadId: string, space: string, deviceClass = '*'): string {
  return `${workloadId}:${space}:${deviceClass}`;
}
