/**
 * What the teacher server has seen, for `/stats`: tests use the per-input-hash counts to prove
 * that no sample was sent twice and that the client's budget matches what reached the model.
 * A sample is "received" once its request passed auth and rate limiting and was read; that is
 * the point from which a paid API could bill it.
 */
import { createHash } from 'node:crypto';

export interface TeacherServerStats {
  requests: number;
  inferRequests: number;
  /** Samples in requests that reached the model stage (billable), failed or not. */
  samplesReceived: number;
  /** Samples in complete 2xx replies. */
  samplesServed: number;
  uniqueSamples: number;
  /** Received samples whose exact bytes had been received before. */
  duplicateSamples: number;
  byStatus: Record<string, number>;
  /** Per SHA-256 of each sample's float32 bytes, how often it was received (only when asked for). */
  hashes?: Record<string, number>;
}

export class StatsRecorder {
  private readonly s: Omit<TeacherServerStats, 'uniqueSamples' | 'hashes'> = {
    requests: 0, inferRequests: 0, samplesReceived: 0, samplesServed: 0, duplicateSamples: 0, byStatus: {},
  };
  private readonly seen = new Map<string, number>();

  request(): void {
    this.s.requests++;
  }

  status(code: number): void {
    this.s.byStatus[code] = (this.s.byStatus[code] ?? 0) + 1;
  }

  /** Records the samples of one infer request; `input` holds count samples of `per` values. */
  received(input: Float32Array, count: number, per: number): void {
    this.s.inferRequests++;
    this.s.samplesReceived += count;
    const bytes = new Uint8Array(input.buffer, input.byteOffset, count * per * 4);
    for (let i = 0; i < count; i++) {
      const h = createHash('sha256').update(bytes.subarray(i * per * 4, (i + 1) * per * 4)).digest('hex');
      const n = (this.seen.get(h) ?? 0) + 1;
      this.seen.set(h, n);
      if (n > 1) this.s.duplicateSamples++;
    }
  }

  served(count: number): void {
    this.s.samplesServed += count;
  }

  snapshot(withHashes = false): TeacherServerStats {
    return {
      ...this.s,
      byStatus: { ...this.s.byStatus },
      uniqueSamples: this.seen.size,
      ...(withHashes ? { hashes: Object.fromEntries(this.seen) } : {}),
    };
  }
}
