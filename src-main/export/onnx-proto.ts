/**
 * onnx-proto is a CommonJS bundle of protobufjs static code; from ESM its whole
 * module.exports arrives as the default import, with the `onnx` namespace on it.
 */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
// Re-exported as a type namespace so callers can write onnx.INodeProto and friends.
export type { onnx as OnnxTypes } from 'onnx-proto';
