/** Content digests of files (hex SHA-256), streamed so any size stays in bounded memory. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export const SHA256_RE = /^[0-9a-f]{64}$/;
