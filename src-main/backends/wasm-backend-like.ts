/**
 * The members of the wasm backend (BackendWasm) that kernels written in JS use; its own module so
 * the kernel files can share it without importing each other.
 */
import type * as tf from '@tensorflow/tfjs';

export interface WasmBackendLike {
  incRef(dataId: tf.DataId): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}
