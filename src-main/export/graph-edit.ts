/**
 * A mutable view of an ONNX graph for rewriting passes (fp16 weights, QDQ quantization):
 * unique names, initializer lookup, and producer/consumer queries. Passes work on a copy, so
 * the fp32 model they start from stays usable for the other precisions.
 */
import type { OnnxTypes } from './onnx-proto.ts';

export class GraphEditor {
  readonly graph: OnnxTypes.IGraphProto;
  private readonly taken = new Set<string>();

  constructor(source: OnnxTypes.IGraphProto) {
    // Node and initializer objects are copied one level deep: passes replace them, never mutate
    // tensors in place, so the raw weight bytes can be shared with the source graph.
    this.graph = {
      ...source,
      node: (source.node ?? []).map((n) => ({
        ...n,
        input: [...(n.input ?? [])],
        output: [...(n.output ?? [])],
        attribute: [...(n.attribute ?? [])],
      })),
      initializer: [...(source.initializer ?? [])],
      input: [...(source.input ?? [])],
      output: [...(source.output ?? [])],
      valueInfo: [...(source.valueInfo ?? [])],
    };
    for (const n of this.nodes) {
      if (n.name) this.taken.add(n.name);
      for (const o of n.output ?? []) this.taken.add(o);
    }
    for (const t of this.initializers) if (t.name) this.taken.add(t.name);
    for (const v of [...this.graph.input!, ...this.graph.output!]) if (v.name) this.taken.add(v.name);
  }

  get nodes(): OnnxTypes.INodeProto[] {
    return this.graph.node!;
  }

  get initializers(): OnnxTypes.ITensorProto[] {
    return this.graph.initializer!;
  }

  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./-]/g, '_') || 't';
    let name = clean;
    for (let i = 1; this.taken.has(name); i++) name = `${clean}_${i}`;
    this.taken.add(name);
    return name;
  }

  initializer(name: string): OnnxTypes.ITensorProto | undefined {
    return this.initializers.find((t) => t.name === name);
  }

  replaceInitializer(name: string, replacement: OnnxTypes.ITensorProto): void {
    const i = this.initializers.findIndex((t) => t.name === name);
    if (i < 0) throw new Error(`graph edit: no initializer "${name}"`);
    this.initializers[i] = replacement;
  }

  removeUnusedInitializers(): void {
    const used = new Set(this.nodes.flatMap((n) => n.input ?? []));
    this.graph.initializer = this.initializers.filter((t) => used.has(t.name ?? ''));
  }

  producer(tensor: string): OnnxTypes.INodeProto | undefined {
    return this.nodes.find((n) => (n.output ?? []).includes(tensor));
  }

  consumers(tensor: string): OnnxTypes.INodeProto[] {
    return this.nodes.filter((n) => (n.input ?? []).includes(tensor));
  }

  isGraphOutput(tensor: string): boolean {
    return this.graph.output!.some((o) => o.name === tensor);
  }

  isGraphInput(tensor: string): boolean {
    return this.graph.input!.some((o) => o.name === tensor);
  }

  /** Points every consumer of `from` (not graph outputs) at `to`, except the nodes listed. */
  redirectConsumers(from: string, to: string, except: OnnxTypes.INodeProto[] = []): void {
    for (const n of this.nodes) {
      if (except.includes(n)) continue;
      n.input = (n.input ?? []).map((x) => (x === from ? to : x));
    }
  }

  removeNode(node: OnnxTypes.INodeProto): void {
    this.graph.node = this.nodes.filter((n) => n !== node);
  }

  /** Inserts a node right after the producer of its first input, keeping the list topologically sorted. */
  insertAfterProducer(node: OnnxTypes.INodeProto, anchorTensor: string): void {
    const at = this.nodes.findIndex((n) => (n.output ?? []).includes(anchorTensor));
    this.nodes.splice(at + 1, 0, node);
  }
}
