/**
 * How accurate a zoo student gets when trained on real, correctly labelled Fashion-MNIST training
 * images: a reference point for the distillation table (a method that labels at most B images can
 * hardly beat the same student trained on B real labelled images).
 *
 *   node --import tsx scripts/student-ceiling.ts [--student lenet5-half] [--n 60000] [--epochs 30]
 *     [--shift 2] [--batch 64] [--seed 1] [--labels true|teacher] [--temperature 1]
 *     [--lr 0.001] [--schedule constant|cosine] [--flip]
 *
 * Same trainer, optimiser (Adam, 1e-3 unless --lr), batch and augmentation as a run. `--labels true` (the
 * default) trains on the true labels, no teacher. `--labels teacher` trains on the default
 * teacher's probabilities for the same images, softened at `--temperature` (KL at T, as kd-soft
 * trains; T = 1 is cross-entropy on the probabilities): the best a method could do with n queries
 * if every one of them were a real training image.
 * Prints test accuracy on the 10,000 test images after every epoch, then one JSON line.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src-main/backends/select-backend.ts';
import { getStudent } from '../src-main/students/index.ts';
import { trainStudent } from '../src-main/training/trainer.ts';
import { LR_SCHEDULES, type LrSchedule } from '../src-main/training/schedule.ts';
import { kdKl, softCe } from '../src-main/methods/losses.ts';
import { agreement, predictClasses } from '../src-main/training/evaluate.ts';
import { resolveFashionMnistDir } from '../src-main/data/fashion-mnist.ts';
import { findIdxPair, loadIdxImages } from '../src-main/data/idx.ts';
import { Rng } from '../src-main/util/rng.ts';
import { loadServedModel } from '../src-main/teacher-server/served-model.ts';
import { softTargets } from '../src-main/methods/soft-targets.ts';
import { responsesFromLogits } from '../src-main/teachers/responses.ts';
import { toTeacherInput } from '../src-main/teachers/preprocess.ts';

const { values } = parseArgs({
  options: {
    student: { type: 'string', default: 'lenet5-half' },
    n: { type: 'string', default: '60000' },
    epochs: { type: 'string', default: '30' },
    shift: { type: 'string', default: '2' },
    batch: { type: 'string', default: '64' },
    seed: { type: 'string', default: '1' },
    labels: { type: 'string', default: 'true' },
    temperature: { type: 'string', default: '1' },
    schedule: { type: 'string', default: 'constant' },
    lr: { type: 'string', default: '0.001' },
    flip: { type: 'boolean', default: false },
    /** Default: the Debian package when installed, else the bundled 2,000 + 2,000 demo subset. */
    data: { type: 'string' },
  },
});
const backend = await initBackend({});
const dataDir = values.data ?? resolveFashionMnistDir().dir;
const trainPair = findIdxPair(dataDir, 'train');
const testPair = findIdxPair(dataDir, 'test');
const train = loadIdxImages(trainPair.images, trainPair.labels);
const test = loadIdxImages(testPair.images, testPair.labels);
const n = Math.min(Number(values.n), train.count);
const epochs = Number(values.epochs);
const dims = { height: train.height, width: train.width, channels: train.channels };
const per = dims.height * dims.width * dims.channels;
const C = 10;
if (values.labels !== 'true' && values.labels !== 'teacher')
  throw new Error(`--labels must be true or teacher, got ${values.labels}`);
const temperature = Number(values.temperature);
if (!(temperature > 0)) throw new Error(`--temperature must be a positive number, got ${values.temperature}`);
let targets: Float32Array = new Float32Array(n * C);
let labelNote = 'their true labels';
if (values.labels === 'teacher') {
  // The shipped teacher, run in-process on the same input its server gets: the client-side
  // conversion its manifest declares, done by the function every HTTP teacher client uses.
  const manifest = new URL('../resources/teachers/fashion-mnist-cnn.json', import.meta.url).pathname;
  const teacher = await loadServedModel(manifest);
  const logits = new Float32Array(n * C);
  const chunk = 1000;
  for (let s0 = 0; s0 < n; s0 += chunk) {
    const m = Math.min(chunk, n - s0);
    const x = toTeacherInput(train.images.subarray(s0 * per, (s0 + m) * per), m, dims, teacher.inputSpec!);
    logits.set(await teacher.run(x, m), s0 * C);
  }
  await teacher.close();
  const replies = responsesFromLogits(logits, C);
  targets = softTargets(replies, temperature).values;
  let agree = 0;
  for (let i = 0; i < n; i++) if (replies.top1[i] === train.labels![i]) agree++;
  labelNote = `the teacher's probabilities at T = ${temperature} (teacher right on ${((100 * agree) / n).toFixed(2)}% of them)`;
} else {
  for (let i = 0; i < n; i++) targets[i * C + train.labels![i]] = 1;
}
const seed = Number(values.seed);
const model = getStudent(values.student).build({
  inputShape: [dims.height, dims.width, dims.channels],
  numClasses: C,
  seed,
});
const loss = values.labels === 'teacher' && temperature !== 1 ? kdKl({ temperature }) : softCe();
const curve: number[] = [];
if (!(LR_SCHEDULES as readonly string[]).includes(values.schedule))
  throw new Error(`--schedule must be one of ${LR_SCHEDULES.join(', ')}, got ${values.schedule}`);
console.log(
  `${values.student} on the first ${n} training images with ${labelNote} (${dataDir}), ${epochs} epochs, batch ${values.batch}, Adam at ${values.lr} (${values.schedule}), shift ${values.shift}${values.flip ? ', flip' : ''}, backend ${backend.key}`,
);
const t0 = performance.now();
await trainStudent({
  model,
  images: train.images.subarray(0, n * per),
  targets,
  count: n,
  dims,
  epochs,
  batchSize: Number(values.batch),
  learningRate: Number(values.lr),
  schedule: values.schedule as LrSchedule,
  augment: { shift: Number(values.shift), flip: values.flip },
  rng: new Rng(seed + 1),
  loss,
  onEpoch: async (e) => {
    const accuracy = agreement(await predictClasses(model, test.images, test.count, dims), test.labels!);
    curve.push(accuracy);
    console.log(
      `epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  test accuracy ${(100 * accuracy).toFixed(2)}%  (${e.seconds.toFixed(1)} s)`,
    );
  },
});
const final = curve[curve.length - 1];
console.log(
  JSON.stringify({
    student: values.student,
    n,
    labels: values.labels,
    temperature,
    epochs,
    batch: Number(values.batch),
    lr: Number(values.lr),
    schedule: values.schedule,
    flip: values.flip,
    shift: Number(values.shift),
    seed,
    finalAccuracy: final,
    bestAccuracy: Math.max(...curve),
    curve,
    seconds: Math.round((performance.now() - t0) / 1000),
  }),
);
