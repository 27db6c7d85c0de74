/** The ConfDB seen as the identification module's WorkloadStore. */
import type { ConfDB } from '../confdb/db.js';
import type { WorkloadRecord } from '../confdb/records.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import type { KnownWorkload, WorkloadStore } from '../ml/identify.js';

/**
 * A stored workload as identification sees it. With `modelId`, a profile made
 * by another model (or before models had ids) is offered for the exact-match
 * rule only: its embedding lives in that model's space.
 */
export function toKnown(w: WorkloadRecord, modelId?: string): KnownWorkload | undefined {
  if (!w.embedding || !w.pcaCentre) return undefined;
  const comparable = modelId === undefined || w.modelId === modelId;
  return {
    id: w.id,
    name: w.name,
    centroidEmbedding: w.embedding,
    ...(w.modes ? { modes: w.modes } : {}),
    ...(w.embeddingSpread !== undefined ? { spread: w.embeddingSpread } : {}),
    pcaCentre: w.pcaCentre,
    descriptors: w.descriptors,
    ...(comparable ? {} : { comparable: false }),
  };
}

export class ConfDBWorkloadStore implements WorkloadStore {
  constructor(
    private readonly db: ConfDB,
    /** Only workloads described with the model's window size are comparable. */
    private readonly windowSize: number,
    /** The loaded model's fingerprint (SimilarityModel.id); profiles of other models are exact-match only. */
    private readonly modelId?: string,
  ) {}

  async list(): Promise<readonly KnownWorkload[]> {
    const out: KnownWorkload[] = [];
    for (const w of await this.db.workloadsWithWindow(this.windowSize)) {
      // Profiles made with another descriptor set come from another model generation: their
      // embeddings and PCA centres live in a different space and would match at random.
      const sameDescriptors = w.descriptorNames?.length === DESCRIPTOR_VECTOR_NAMES.length && w.descriptorNames.every((n, i) => n === DESCRIPTOR_VECTOR_NAMES[i]);
      const k = w.windowSize === this.windowSize && sameDescriptors ? toKnown(w, this.modelId) : undefined;
      if (k) out.push(k);
    }
    return out;
  }
}
