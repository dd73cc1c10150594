/** The student zoo for the teacher's input: size, FLOPs and a batch-1 latency measured here. */
import * as tf from '@tensorflow/tfjs';
import type { ApiResponses } from '../api/contract.ts';
import { listStudents, describeStudent } from '../students/index.ts';
import type { ApiHandlers, ServiceContext } from './context.ts';

export function studentHandlers(ctx: ServiceContext): Pick<ApiHandlers, 'students:list'> {
  return {
    'students:list': async ({ height, width, channels, numClasses }) => {
      await ctx.ensureBackend();
      const cards: ApiResponses['students:list'] = [];
      for (const s of listStudents()) {
        let model: tf.LayersModel;
        try {
          model = s.build({ inputShape: [height, width, channels], numClasses, seed: 1 });
        } catch {
          continue; // this architecture does not fit the teacher's input
        }
        try {
          const d = describeStudent(model);
          const x = tf.zeros([1, height, width, channels]);
          const times: number[] = [];
          for (let i = 0; i < 6; i++) {
            const t0 = performance.now();
            const y = model.predict(x) as tf.Tensor;
            await y.data();
            y.dispose();
            if (i > 0) times.push(performance.now() - t0);
          }
          x.dispose();
          times.sort((a, b) => a - b);
          cards.push({
            key: s.key,
            title: s.title,
            description: s.description,
            params: d.params,
            flops: d.flops,
            sizeBytes: d.params * 4,
            latencyMs: Number(times[times.length >> 1].toFixed(2)),
          });
        } finally {
          model.dispose();
        }
      }
      return cards;
    },
  };
}
