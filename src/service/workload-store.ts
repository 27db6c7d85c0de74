/** The ConfDB seen as the identification module's WorkloadStore. */
import type { ConfDB } from '../confdb/db.js';
import type { WorkloadRecord } from '../confdb/records.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import type { KnownWorkload, WorkloadStore } from '../ml/identify.js';

export function toKnown(w: WorkloadRecord): KnownWorkload | undefined {
  if (!w.embedding || w.embeddingRadius === undefined || !w.pcaCentre) return undefined;
  return { id: w.id, name: w.name, centroidEmbedding: w.embedding, embeddingRadius: w.embeddingRadius, pcaCentre: w.pcaCentre, descriptors: w.descriptors };
}

export class ConfDBWorkloadStore implements WorkloadStore {
  constructor(
    private readonly db: ConfDB,
    /** Only workloads described with the model's window size are comparable. */
    private readonly windowSize: number,
  ) {}

  async list(): Promise<readonly KnownWorkload[]> {
    const out: KnownWorkload[] = [];
    for (const w of await this.db.list('workloads')) {
      // Profiles made with another descriptor set come from another model generation: their
      // embeddings and PCA centres live in a different space and would match at random.
      const sameDescriptors = w.descriptorNames?.length === DESCRIPTOR_VECTOR_NAMES.length && w.descriptorNames.every((n, i) => n === DESCRIPTOR_VECTOR_NAMES[i]);
      const k = w.windowSize === this.windowSize && sameDescriptors ? toKnown(w) : undefined;
      if (k) out.push(k);
    }
    return out;
  }
}
