/** Stored workloads for fleet measurements (bench/fleet.bench.ts, test/fleet-cpu.test.ts). */
import type { BatchOp, ConfDB } from '../../src/confdb/db.js';
import { newId } from '../../src/confdb/ids.js';
import type { ConfigRecord, WorkloadRecord } from '../../src/confdb/records.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../../src/features/descriptors.js';

/** Deterministic uniform and normal draws. */
export function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return { u, normal: () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) };
}

/**
 * `n` stored workloads far from real ones (random points of the embedding
 * sphere): the store agents are identified against. With `configsFor` (a
 * device class), each has a configuration learned on that class, as in a
 * fleet that has tuned them.
 */
export async function seedWorkloads(
  db: ConfDB,
  n: number,
  dim: number,
  windowSize: number,
  modelId: string | undefined,
  o: { configsFor?: string } = {},
): Promise<void> {
  const r = rng(n);
  for (let done = 0; done < n;) {
    const ops: BatchOp[] = [];
    for (let i = 0; i < 1000 && done < n; i++, done++) {
      const e = Array.from({ length: dim }, () => r.normal());
      const norm = Math.hypot(...e);
      const w: WorkloadRecord = {
        id: newId(),
        name: `seeded ${done}`,
        createdAt: new Date().toISOString(),
        source: { paths: [], format: 'bench', requests: 0 },
        descriptorNames: [...DESCRIPTOR_VECTOR_NAMES],
        descriptors: DESCRIPTOR_VECTOR_NAMES.map(() => r.u()),
        pcaCentre: [r.normal(), r.normal()],
        embedding: e.map((x) => x / norm),
        embeddingSpread: 0.05,
        windowSize,
        ...(modelId ? { modelId } : {}),
      };
      ops.push({ kind: 'workloads', type: 'put', value: w });
      if (o.configsFor) {
        const c: ConfigRecord = {
          id: newId(),
          space: 'host',
          values: { read_ahead_kb: 128 * (1 + (done % 8)) },
          createdAt: w.createdAt,
          workloadId: w.id,
          grade: 1 + r.u(),
          deviceClass: o.configsFor,
        };
        ops.push({ kind: 'configs', type: 'put', value: c });
      }
    }
    await db.batch(ops);
  }
}
