/**
 * ResNet-8: the CIFAR-style ResNet (He et al., 2016) with one basic block per stage,
 * a common edge student in the distillation literature. Convolutions that feed a
 * BatchNormalization carry no bias, since BN's shift makes it redundant.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, conv2d, dense, reLU } from './fast-layers.ts';
import { registerStudent } from './registry.ts';
import { SeededInit, assertMinSpatial, assertNumClasses } from './init.ts';

function convBn(
  x: tf.SymbolicTensor,
  init: SeededInit,
  name: string,
  filters: number,
  kernelSize: number,
  strides: number,
): tf.SymbolicTensor {
  const conv = conv2d({
    name: `${name}_conv`,
    filters,
    kernelSize,
    strides,
    padding: 'same',
    useBias: false,
    kernelInitializer: init.he(),
  });
  const bn = batchNormalization({ name: `${name}_bn` });
  return bn.apply(conv.apply(x)) as tf.SymbolicTensor;
}

function relu(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return reLU({ name }).apply(x) as tf.SymbolicTensor;
}

function basicBlock(
  x: tf.SymbolicTensor,
  init: SeededInit,
  name: string,
  width: number,
  stride: number,
): tf.SymbolicTensor {
  const inChannels = x.shape[3];
  let y = convBn(x, init, `${name}_a`, width, 3, stride);
  y = relu(y, `${name}_a_relu`);
  y = convBn(y, init, `${name}_b`, width, 3, 1);
  // The identity only fits when neither resolution nor width changes; otherwise a
  // strided 1x1 projection (option B in the ResNet paper) matches the shapes.
  const shortcut = stride !== 1 || inChannels !== width ? convBn(x, init, `${name}_proj`, width, 1, stride) : x;
  const sum = tf.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
  return relu(sum, `${name}_relu`);
}

registerStudent({
  key: 'resnet8',
  title: 'ResNet-8',
  description:
    'CIFAR-style ResNet with a 16-filter stem and three basic blocks (16, 32, 64; strides 1, 2, 2), BN, global average pooling.',
  build(opts) {
    assertMinSpatial('resnet8', opts.inputShape, 4);
    assertNumClasses('resnet8', opts.numClasses);
    const init = new SeededInit(opts.seed);
    const input = tf.input({ name: 'input', shape: opts.inputShape });
    let x = relu(convBn(input, init, 'stem', 16, 3, 1), 'stem_relu');
    x = basicBlock(x, init, 'block1', 16, 1);
    x = basicBlock(x, init, 'block2', 32, 2);
    x = basicBlock(x, init, 'block3', 64, 2);
    x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
    const logits = dense({ name: 'logits', units: opts.numClasses, kernelInitializer: init.glorot() }).apply(
      x,
    ) as tf.SymbolicTensor;
    return tf.model({ name: 'resnet8', inputs: input, outputs: logits });
  },
});
