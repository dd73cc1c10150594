/**
 * The only road to a teacher: every sample passes the hard query budget, in batches of at most
 * `maxBatch`, with progress reported. Methods never call an adapter directly.
 */
import type { Teacher } from './teacher.ts';
import { concatResponses, type TeacherResponses } from './responses.ts';
import { QueryBudget } from './query-budget.ts';

export interface LabelProgress {
  done: number;
  total: number;
  spent: number;
  limit: number;
}

export interface TeacherClientOptions {
  /** Samples per request (default 256). */
  maxBatch?: number;
}

export class TeacherClient {
  private readonly maxBatch: number;
  /** Samples actually sent and answered through this client. */
  sent = 0;
  requests = 0;

  constructor(
    readonly teacher: Teacher,
    readonly budget: QueryBudget,
    opts: TeacherClientOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
  }

  /**
   * Labels `count` NHWC images. The whole call is checked against the budget up front, so a
   * request that cannot be paid for in full sends nothing.
   */
  async label(
    images: Float32Array,
    count: number,
    sampleSize: number,
    onProgress?: (p: LabelProgress) => void,
  ): Promise<TeacherResponses> {
    this.budget.reserve(count);
    const parts: TeacherResponses[] = [];
    let done = 0;
    try {
      while (done < count) {
        const n = Math.min(this.maxBatch, count - done);
        const batch = images.subarray(done * sampleSize, (done + n) * sampleSize);
        const reply = await this.teacher.query(batch, n);
        this.budget.commit(n);
        this.sent += n;
        this.requests++;
        done += n;
        parts.push(reply);
        onProgress?.({ done, total: count, spent: this.budget.spent, limit: this.budget.limit });
      }
    } finally {
      this.budget.release(count - done);
    }
    return concatResponses(parts);
  }
}
