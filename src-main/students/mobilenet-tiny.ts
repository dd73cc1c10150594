/**
 * A tiny MobileNet (Howard et al., 2017): depthwise-separable blocks with BN and
 * ReLU6. ReLU6 is kept because it quantises well, which matters on edge targets.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, conv2d, dense, reLU } from './fast-layers.ts';
import { registerStudent } from './registry.ts';
import { SeededInit, assertMinSpatial, assertNumClasses } from './init.ts';

/** (pointwise width, depthwise stride) per separable block. */
const BLOCKS: ReadonlyArray<readonly [number, number]> = [
  [16, 1],
  [32, 2],
  [32, 1],
  [64, 2],
];

registerStudent({
  key: 'mobilenet-tiny',
  title: 'MobileNet-tiny',
  description:
    'Strided 8-filter stem and four depthwise-separable blocks (16/1, 32/2, 32/1, 64/2) with BN and ReLU6, global average pooling.',
  build(opts) {
    assertMinSpatial('mobilenet-tiny', opts.inputShape, 1);
    assertNumClasses('mobilenet-tiny', opts.numClasses);
    const init = new SeededInit(opts.seed);
    const model = tf.sequential({ name: 'mobilenet_tiny' });
    model.add(
      conv2d({
        name: 'stem_conv',
        inputShape: opts.inputShape,
        filters: 8,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        useBias: false,
        kernelInitializer: init.he(),
      }),
    );
    model.add(batchNormalization({ name: 'stem_bn' }));
    model.add(reLU({ name: 'stem_relu6', maxValue: 6 }));
    BLOCKS.forEach(([width, stride], i) => {
      const p = `block${i + 1}`;
      model.add(
        tf.layers.depthwiseConv2d({
          name: `${p}_dw`,
          kernelSize: 3,
          strides: stride,
          padding: 'same',
          useBias: false,
          depthwiseInitializer: init.he(),
        }),
      );
      model.add(batchNormalization({ name: `${p}_dw_bn` }));
      model.add(reLU({ name: `${p}_dw_relu6`, maxValue: 6 }));
      model.add(
        conv2d({
          name: `${p}_pw`,
          filters: width,
          kernelSize: 1,
          padding: 'same',
          useBias: false,
          kernelInitializer: init.he(),
        }),
      );
      model.add(batchNormalization({ name: `${p}_pw_bn` }));
      model.add(reLU({ name: `${p}_pw_relu6`, maxValue: 6 }));
    });
    model.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
    model.add(dense({ name: 'logits', units: opts.numClasses, kernelInitializer: init.glorot() }));
    return model;
  },
});
