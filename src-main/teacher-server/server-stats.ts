/**
 * What the teacher server has seen, for `/stats`. A sample is "received" once its request passed
 * auth and rate limiting and was read (from then on a paid API could bill it), and "served" once
 * a complete 2xx reply carrying it was written. Per-input-hash counts let tests prove that no
 * sample was answered twice and that the client's budget matches what reached the model.
 */
import { createHash } from 'node:crypto';

export interface TeacherServerStats {
  requests: number;
  inferRequests: number;
  /** Samples in requests that reached the model stage (billable), answered or not. */
  samplesReceived: number;
  /** Samples in complete 2xx replies. */
  samplesServed: number;
  /** Distinct inputs served. */
  uniqueSamples: number;
  /** Served samples whose exact bytes had been served before: what a reply cache must prevent. */
  duplicateSamples: number;
  /** Received samples whose exact bytes had been received before (retries after a lost reply included). */
  duplicateReceived: number;
  byStatus: Record<string, number>;
  /** Per SHA-256 of each sample's float32 bytes, how often it was served (only when asked for). */
  hashes?: Record<string, number>;
}

export class StatsRecorder {
  private readonly s = {
    requests: 0,
    inferRequests: 0,
    samplesReceived: 0,
    samplesServed: 0,
    duplicateSamples: 0,
    duplicateReceived: 0,
    byStatus: {} as Record<string, number>,
  };
  private readonly receivedBy = new Map<string, number>();
  private readonly servedBy = new Map<string, number>();

  request(): void {
    this.s.requests++;
  }

  status(code: number): void {
    this.s.byStatus[code] = (this.s.byStatus[code] ?? 0) + 1;
  }

  /** Records one infer request's samples (`count` of `per` values) and returns their hashes. */
  received(input: Float32Array, count: number, per: number): string[] {
    this.s.inferRequests++;
    this.s.samplesReceived += count;
    const bytes = new Uint8Array(input.buffer, input.byteOffset, count * per * 4);
    const hashes: string[] = [];
    for (let i = 0; i < count; i++) {
      const h = createHash('sha256')
        .update(bytes.subarray(i * per * 4, (i + 1) * per * 4))
        .digest('hex');
      hashes.push(h);
      const n = (this.receivedBy.get(h) ?? 0) + 1;
      this.receivedBy.set(h, n);
      if (n > 1) this.s.duplicateReceived++;
    }
    return hashes;
  }

  served(hashes: string[]): void {
    this.s.samplesServed += hashes.length;
    for (const h of hashes) {
      const n = (this.servedBy.get(h) ?? 0) + 1;
      this.servedBy.set(h, n);
      if (n > 1) this.s.duplicateSamples++;
    }
  }

  snapshot(withHashes = false): TeacherServerStats {
    return {
      ...this.s,
      byStatus: { ...this.s.byStatus },
      uniqueSamples: this.servedBy.size,
      ...(withHashes ? { hashes: Object.fromEntries(this.servedBy) } : {}),
    };
  }
}
