/**
 * What every HTTP adapter shares: turning engine images into the teacher's form, reducing a reply
 * to the response kind the run uses, validating it, and completing the teacher's description at
 * open time from metadata, settings or (only when neither tells) one probe sample.
 */
import type { Teacher, TeacherInfo, TeacherInputSpec } from './teacher.ts';
import { toTeacherInput, specImageDims } from './preprocess.ts';
import { degradeResponses, TeacherResponseError, type ResponseKind, type TeacherResponses } from './responses.ts';
import { validateResponses } from './validate-responses.ts';
import { TeacherConfigError, TeacherError } from './errors.ts';
import { retryWhileOpening } from './open-retry.ts';

/** How to read a reply: what is known so far about classes and kind. */
export interface ReplyContext {
  numClasses?: number;
  declaredKind?: ResponseKind;
}

/** Sends prepared input and interprets the reply as richly as it allows (no reduction yet). */
export type SendFn = (input: Float32Array, count: number, ctx: ReplyContext) => Promise<TeacherResponses>;

export interface DescribeArgs {
  protocol: string;
  /** Endpoint, model and version, without secrets: the cache identity before the kind. */
  identity: string;
  name: string;
  input: TeacherInputSpec;
  /** From settings or metadata. */
  numClasses?: number;
  responseKind?: ResponseKind;
  classNames?: string[];
  topK?: number;
}

export class RemoteTeacher implements Teacher {
  private constructor(
    readonly info: TeacherInfo,
    private readonly sendFn: SendFn,
    private readonly topK: number,
    private readonly declared: ResponseKind | undefined,
  ) {}

  /** Completes the description, probing one sample only if the class count or kind is unknown. */
  static async describe(args: DescribeArgs, send: SendFn): Promise<RemoteTeacher> {
    let numClasses = args.classNames?.length ?? args.numClasses;
    let kind = args.responseKind;
    let openQueries = 0;
    if (numClasses === undefined || kind === undefined) {
      const dims = specImageDims(args.input);
      const probe = toTeacherInput(new Float32Array(dims.height * dims.width * dims.channels), 1, dims, args.input);
      // A failed attempt that may have reached the model is counted like the one that answers.
      const reply = await retryWhileOpening(
        () => send(probe, 1, { numClasses, declaredKind: kind }),
        {},
        (err) => {
          if (!(err instanceof TeacherError) || err.maybeProcessed) openQueries++;
        },
      );
      openQueries++;
      numClasses ??= reply.numClasses;
      kind ??= reply.kind;
    }
    if (!numClasses)
      throw new TeacherConfigError(
        `${args.protocol} teacher ${args.name}: its replies do not tell the class count; set teacher.numClasses or classNames`,
      );
    if (args.classNames && args.classNames.length !== numClasses) {
      throw new TeacherConfigError(
        `${args.name}: ${args.classNames.length} class names but the teacher has ${numClasses} classes`,
      );
    }
    const info: TeacherInfo = {
      id: `${args.protocol}:${args.identity}:${kind}${kind === 'top-k' ? `${args.topK ?? ''}` : ''}`,
      protocol: args.protocol,
      name: args.name,
      input: args.input,
      responseKind: kind,
      numClasses,
      classNames: args.classNames,
      openQueries,
    };
    return new RemoteTeacher(info, send, args.topK ?? 3, args.responseKind);
  }

  async query(images: Float32Array, count: number): Promise<TeacherResponses> {
    return this.queryPrepared(toTeacherInput(images, count, specImageDims(this.info.input), this.info.input), count);
  }

  async queryPrepared(input: Float32Array, count: number): Promise<TeacherResponses> {
    const C = this.info.numClasses;
    const raw = await this.sendFn(input, count, {
      numClasses: C,
      declaredKind: this.declared ?? this.info.responseKind,
    });
    let reply: TeacherResponses;
    try {
      reply = raw.kind === this.info.responseKind ? raw : degradeResponses(raw, this.info.responseKind, this.topK);
    } catch (err) {
      throw new TeacherResponseError(
        `teacher replied ${raw.kind}, but it was opened as ${this.info.responseKind}: ${(err as Error).message}`,
      );
    }
    validateResponses(reply, count, C);
    return reply;
  }

  async close(): Promise<void> {}
}
