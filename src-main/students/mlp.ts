/** A plain multilayer perceptron: the smallest baseline with no spatial inductive bias. */
import * as tf from '@tensorflow/tfjs';
import { dense } from './fast-layers.ts';
import { registerStudent } from './registry.ts';
import { SeededInit, assertMinSpatial, assertNumClasses } from './init.ts';

registerStudent({
  key: 'mlp',
  title: 'MLP 256-128',
  description: 'Flatten, then dense 256 and 128 with ReLU. A baseline with no convolutional prior.',
  build(opts) {
    assertMinSpatial('mlp', opts.inputShape, 1);
    assertNumClasses('mlp', opts.numClasses);
    const init = new SeededInit(opts.seed);
    const model = tf.sequential({ name: 'mlp' });
    model.add(tf.layers.flatten({ name: 'flatten', inputShape: opts.inputShape }));
    model.add(dense({ name: 'fc1', units: 256, activation: 'relu', kernelInitializer: init.he() }));
    model.add(dense({ name: 'fc2', units: 128, activation: 'relu', kernelInitializer: init.he() }));
    model.add(dense({ name: 'logits', units: opts.numClasses, kernelInitializer: init.glorot() }));
    return model;
  },
});
