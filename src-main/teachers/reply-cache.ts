/**
 * The response cache (issue item 4): one sample's validated reply, keyed by the teacher's identity
 * (`TeacherInfo.id`) and the SHA-256 of that sample's exact preprocessed bytes as sent. A re-run,
 * resume or second method on the same inputs then spends no budget on them.
 *
 * Synchronous on purpose: the persistent store is better-sqlite3, which is synchronous, and the
 * client must have a reply committed before it uses it.
 */
import { createHash } from 'node:crypto';
import { RESPONSE_KINDS, TeacherResponseError, type ResponseKind, type TeacherResponses } from './responses.ts';

/** One sample's normalised reply. */
export interface CachedReply {
  kind: ResponseKind;
  numClasses: number;
  top1: number;
  /** numClasses probabilities (logits and probabilities replies). */
  probs?: Float32Array;
  /** numClasses logits (logits replies). */
  logits?: Float32Array;
  /** Best-first class indices and scores (top-k replies). */
  topk?: { indices: Int32Array; scores: Float32Array };
}

export interface ReplyCache {
  /** One entry per key, in order; undefined where nothing is stored. */
  getMany(teacherId: string, keys: string[]): (CachedReply | undefined)[];
  /** Stores (or replaces) entries durably before returning. */
  putMany(teacherId: string, entries: { key: string; reply: CachedReply }[]): void;
}

/** Cache key of each sample: SHA-256 hex of its bytes in `teacherInput` (count samples of `per` values). */
export function sampleKeys(teacherInput: Float32Array, count: number, per: number): string[] {
  const bytes = new Uint8Array(teacherInput.buffer, teacherInput.byteOffset, count * per * 4);
  const keys: string[] = [];
  for (let i = 0; i < count; i++)
    keys.push(
      createHash('sha256')
        .update(bytes.subarray(i * per * 4, (i + 1) * per * 4))
        .digest('hex'),
    );
  return keys;
}

export function splitReplies(r: TeacherResponses): CachedReply[] {
  const C = r.numClasses;
  const out: CachedReply[] = [];
  for (let i = 0; i < r.count; i++) {
    const reply: CachedReply = { kind: r.kind, numClasses: C, top1: r.top1[i] };
    if (r.probs) reply.probs = r.probs.slice(i * C, (i + 1) * C);
    if (r.logits) reply.logits = r.logits.slice(i * C, (i + 1) * C);
    if (r.topk) {
      const k = r.topk.k;
      reply.topk = {
        indices: r.topk.indices.slice(i * k, (i + 1) * k),
        scores: r.topk.scores.slice(i * k, (i + 1) * k),
      };
    }
    out.push(reply);
  }
  return out;
}

/** Reassembles per-sample replies (all of one kind and class count) into one response. */
export function joinReplies(replies: CachedReply[]): TeacherResponses {
  const first = replies[0];
  if (!first) throw new TeacherResponseError('no replies to join');
  const C = first.numClasses;
  const n = replies.length;
  const top1 = new Int32Array(n);
  const probs = first.probs ? new Float32Array(n * C) : undefined;
  const logits = first.logits ? new Float32Array(n * C) : undefined;
  const k = first.topk?.indices.length ?? 0;
  const topk = first.topk ? { k, indices: new Int32Array(n * k), scores: new Float32Array(n * k) } : undefined;
  replies.forEach((r, i) => {
    if (
      r.kind !== first.kind ||
      r.numClasses !== C ||
      Boolean(r.probs) !== Boolean(probs) ||
      Boolean(r.logits) !== Boolean(logits) ||
      (r.topk?.indices.length ?? 0) !== k
    ) {
      throw new TeacherResponseError(
        `inconsistent replies: ${r.kind}/${r.numClasses} classes beside ${first.kind}/${C} classes`,
      );
    }
    top1[i] = r.top1;
    if (probs) probs.set(r.probs!, i * C);
    if (logits) logits.set(r.logits!, i * C);
    if (topk) {
      topk.indices.set(r.topk!.indices, i * k);
      topk.scores.set(r.topk!.scores, i * k);
    }
  });
  return { kind: first.kind, count: n, numClasses: C, top1, probs, logits, topk };
}

const FORMAT_VERSION = 1;
const HAS_PROBS = 1;
const HAS_LOGITS = 2;
const HAS_TOPK = 4;

/**
 * Compact little-endian blob: version u8, kind u8, flags u8, k u8, numClasses u32, top1 i32, then
 * probs f32[C], logits f32[C], top-k indices i32[k] and scores f32[k] where present.
 */
export function encodeReply(r: CachedReply): Buffer {
  const C = r.numClasses;
  const k = r.topk?.indices.length ?? 0;
  const flags = (r.probs ? HAS_PROBS : 0) | (r.logits ? HAS_LOGITS : 0) | (r.topk ? HAS_TOPK : 0);
  const size = 12 + (r.probs ? 4 * C : 0) + (r.logits ? 4 * C : 0) + 8 * k;
  const b = Buffer.alloc(size);
  b.writeUInt8(FORMAT_VERSION, 0);
  b.writeUInt8(RESPONSE_KINDS.indexOf(r.kind), 1);
  b.writeUInt8(flags, 2);
  b.writeUInt8(k, 3);
  b.writeUInt32LE(C, 4);
  b.writeInt32LE(r.top1, 8);
  let o = 12;
  const f32 = (a: Float32Array) =>
    a.forEach((v) => {
      b.writeFloatLE(v, o);
      o += 4;
    });
  if (r.probs) f32(r.probs);
  if (r.logits) f32(r.logits);
  if (r.topk) {
    r.topk.indices.forEach((v) => {
      b.writeInt32LE(v, o);
      o += 4;
    });
    f32(r.topk.scores);
  }
  return b;
}

export function decodeReply(b: Uint8Array): CachedReply {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < 12 || buf.readUInt8(0) !== FORMAT_VERSION)
    throw new TeacherResponseError('cached reply: unknown format');
  const kind = RESPONSE_KINDS[buf.readUInt8(1)];
  const flags = buf.readUInt8(2);
  const k = buf.readUInt8(3);
  const C = buf.readUInt32LE(4);
  const want = 12 + (flags & HAS_PROBS ? 4 * C : 0) + (flags & HAS_LOGITS ? 4 * C : 0) + (flags & HAS_TOPK ? 8 * k : 0);
  if (!kind || buf.length !== want)
    throw new TeacherResponseError(`cached reply: ${buf.length} bytes, expected ${want}`);
  const r: CachedReply = { kind, numClasses: C, top1: buf.readInt32LE(8) };
  let o = 12;
  const f32 = (n: number) => Float32Array.from({ length: n }, (_, i) => buf.readFloatLE(o + 4 * i));
  if (flags & HAS_PROBS) {
    r.probs = f32(C);
    o += 4 * C;
  }
  if (flags & HAS_LOGITS) {
    r.logits = f32(C);
    o += 4 * C;
  }
  if (flags & HAS_TOPK) {
    const indices = Int32Array.from({ length: k }, (_, i) => buf.readInt32LE(o + 4 * i));
    o += 4 * k;
    r.topk = { indices, scores: f32(k) };
  }
  return r;
}

/** In-memory cache for tests and single-process use; stores encoded blobs like the SQLite one. */
export class MemoryReplyCache implements ReplyCache {
  private readonly entries = new Map<string, Buffer>();

  get size(): number {
    return this.entries.size;
  }

  getMany(teacherId: string, keys: string[]): (CachedReply | undefined)[] {
    return keys.map((k) => {
      const b = this.entries.get(`${teacherId}\n${k}`);
      return b ? decodeReply(b) : undefined;
    });
  }

  putMany(teacherId: string, entries: { key: string; reply: CachedReply }[]): void {
    for (const e of entries) this.entries.set(`${teacherId}\n${e.key}`, encodeReply(e.reply));
  }
}
