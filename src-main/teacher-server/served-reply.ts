/**
 * What the server reveals per request: the model's full output reduced to the configured response
 * kind, plus the optional corruptions tests inject to exercise client-side validation.
 */
import {
  degradeResponses,
  responsesFromLogits,
  argmaxRows,
  type ResponseKind,
  type TeacherResponses,
} from '../teachers/responses.ts';
import type { ServedModel } from './served-model.ts';

/** The CLI's short names for response kinds. */
export const SERVE_RESPONSES = {
  logits: 'logits',
  probs: 'probabilities',
  'top-k': 'top-k',
  'top-1': 'top-1',
} as const satisfies Record<string, ResponseKind>;
export type ServeResponse = keyof typeof SERVE_RESPONSES;

export function shapeReply(
  model: ServedModel,
  raw: Float32Array,
  count: number,
  response: ServeResponse,
  topK: number,
): TeacherResponses {
  const C = model.numClasses;
  const full: TeacherResponses =
    model.outputKind === 'logits'
      ? responsesFromLogits(raw, C)
      : { kind: 'probabilities', count, numClasses: C, probs: raw, top1: argmaxRows(raw, C) };
  return degradeResponses(full, SERVE_RESPONSES[response], topK);
}

/** The score matrix a logits or probabilities reply carries. */
export function scoreMatrix(r: TeacherResponses): Float32Array | undefined {
  return r.kind === 'logits' ? r.logits : r.kind === 'probabilities' ? r.probs : undefined;
}
