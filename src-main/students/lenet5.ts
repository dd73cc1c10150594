/**
 * LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, the usual modern reading.
 * The half-width variant is the student used in the FS-BBT black-box distillation
 * experiments; it keeps the fully connected widths and halves the filters.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, dense } from './fast-layers.ts';
import { registerStudent, type StudentBuildOptions } from './registry.ts';
import { SeededInit, assertMinSpatial, assertNumClasses } from './init.ts';

function buildLeNet(key: string, filters: [number, number], opts: StudentBuildOptions): tf.LayersModel {
  // conv1 'same' keeps H; pool halves it; conv2 5x5 'valid' needs >= 5 and the
  // second pool needs >= 2 after it, so H/2 - 4 >= 2.
  assertMinSpatial(key, opts.inputShape, 12);
  assertNumClasses(key, opts.numClasses);
  const init = new SeededInit(opts.seed);
  const model = tf.sequential({ name: key.replace(/-/g, '_') });
  model.add(
    conv2d({
      name: 'conv1',
      inputShape: opts.inputShape,
      filters: filters[0],
      kernelSize: 5,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init.glorot(),
    }),
  );
  model.add(tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }));
  model.add(
    conv2d({
      name: 'conv2',
      filters: filters[1],
      kernelSize: 5,
      padding: 'valid',
      activation: 'relu',
      kernelInitializer: init.glorot(),
    }),
  );
  model.add(tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(dense({ name: 'fc1', units: 120, activation: 'relu', kernelInitializer: init.glorot() }));
  model.add(dense({ name: 'fc2', units: 84, activation: 'relu', kernelInitializer: init.glorot() }));
  model.add(dense({ name: 'logits', units: opts.numClasses, kernelInitializer: init.glorot() }));
  return model;
}

registerStudent({
  key: 'lenet5',
  title: 'LeNet-5',
  description:
    'Classic two-conv LeNet-5 (6 and 16 filters, FC 120-84) with ReLU and max pooling. ~60k params on 28x28.',
  build: (opts) => buildLeNet('lenet5', [6, 16], opts),
});

registerStudent({
  key: 'lenet5-half',
  title: 'LeNet-5 (half width)',
  description: 'LeNet-5 with 3 and 8 filters and FC 120-84, the half-width student from FS-BBT black-box distillation.',
  build: (opts) => buildLeNet('lenet5-half', [3, 8], opts),
});
