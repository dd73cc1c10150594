/**
 * A small builder for an ONNX GraphProto: hands out unique tensor and node names,
 * stores weights as little-endian raw_data initializers (the compact encoding the
 * ONNX IR recommends for large tensors) and shares scalar constants.
 */
import { onnx, type OnnxTypes } from './onnx-proto.ts';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** Attributes whose numbers are ONNX floats rather than ints; everything else numeric is INT/INTS. */
export function float(v: number): { float: number } {
  return { float: v };
}

export function floats(v: number[]): { floats: number[] } {
  return { floats: v };
}

export class OnnxGraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly taken = new Set<string>();
  private readonly scalarCache = new Map<string, string>();

  /** Reserves names (graph input/output) so generated names never collide with them. */
  reserve(...names: string[]): void {
    for (const n of names) this.taken.add(n);
  }

  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./-]/g, '_') || 't';
    if (!this.taken.has(clean)) {
      this.taken.add(clean);
      return clean;
    }
    for (let i = 1; ; i++) {
      const candidate = `${clean}_${i}`;
      if (!this.taken.has(candidate)) {
        this.taken.add(candidate);
        return candidate;
      }
    }
  }

  addFloatInitializer(base: string, data: Float32Array | number[], dims: number[]): string {
    const count = dims.reduce((a, d) => a * d, 1);
    if (count !== data.length) {
      throw new Error(`Initializer ${base}: ${data.length} values do not fill shape [${dims.join(', ')}]`);
    }
    const raw = new Uint8Array(count * 4);
    const view = new DataView(raw.buffer);
    // raw_data is little-endian by the ONNX spec, whatever the host byte order.
    for (let i = 0; i < count; i++) view.setFloat32(i * 4, data[i], true);
    const name = this.unique(base);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
    return name;
  }

  addInt64Initializer(base: string, data: number[], dims: number[]): string {
    const raw = new Uint8Array(data.length * 8);
    const view = new DataView(raw.buffer);
    data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    const name = this.unique(base);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: raw });
    return name;
  }

  /** A rank-0 float constant, shared between all nodes that need the same value. */
  scalar(value: number): string {
    const key = Object.is(value, -0) ? '0' : String(value);
    let name = this.scalarCache.get(key);
    if (!name) {
      name = this.addFloatInitializer(`const_${key.replace(/[^0-9a-z]/gi, '_')}`, [value], []);
      this.scalarCache.set(key, name);
    }
    return name;
  }

  /** Appends a node with one output and returns the output's name. */
  node(
    opType: string,
    inputs: string[],
    nameBase: string,
    attrs: Record<string, AttrValue> = {},
    outputName?: string,
  ): string {
    const output = outputName ?? this.unique(`${nameBase}_out`);
    this.nodes.push({
      opType,
      name: this.unique(nameBase),
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** True when `name` is produced by a node of this graph (not a graph input or initializer). */
  isNodeOutput(name: string): boolean {
    return this.nodes.some((n) => (n.output ?? []).includes(name));
  }

  /** Renames a tensor everywhere it is produced or consumed. */
  rename(from: string, to: string): void {
    for (const n of this.nodes) {
      n.input = (n.input ?? []).map((x) => (x === from ? to : x));
      n.output = (n.output ?? []).map((x) => (x === from ? to : x));
    }
  }
}

export function attribute(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`Attribute ${name}: ${v} is not an integer; wrap floats with float()`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
