/**
 * `distill teacher probe|serve`. Tokens come from environment variables named on the command
 * line, never from arguments, so they stay out of shell history and process lists.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { openTeacher, teacherProtocols } from '../teachers/index.ts';
import { specImageDims } from '../teachers/preprocess.ts';
import { redactSecrets } from '../teachers/secrets.ts';
import { registerSecret } from '../teachers/secrets.ts';
import { startTeacherServer, type ServeProtocol } from '../teacher-server/start-teacher-server.ts';
import { SERVE_RESPONSES, type ServeResponse } from '../teacher-server/served-reply.ts';
import { RESPONSE_KINDS, type ResponseKind } from '../teachers/responses.ts';
import { table, usageError as printUsageError } from './format.ts';

const USAGE = `usage:
  distill teacher probe <url|model.json> --protocol P [--model NAME] [--version V] [--json]
        [--token-env VAR] [--auth bearer|api-key] [--header NAME] [--binary]
        [--input-shape -1,1,28,28] [--layout NCHW|NHWC] [--response KIND] [--timeout MS]
      reads the metadata where the protocol has it, sends one small probe batch, reports
      input/output shapes, response kind, class count and latency. Protocols: ${teacherProtocols().join(', ')}
  distill teacher serve --model <manifest.json|model.onnx> [--port 0] [--protocol kserve-v2|tf-serving]
        [--response logits|probs|top-k|top-1] [--top-k 3] [--token-env VAR] [--rate-limit N]
        [--fail-rate 0.1] [--seed N] [--fp16]
      serves an ONNX classifier on 127.0.0.1 as a cloud teacher; /stats counts samples served
`;

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'probe') return probe(rest);
  if (sub === 'serve') return serve(rest);
  process.stdout.write(USAGE);
  return sub === undefined || sub === '--help' || sub === '-h' ? 0 : 2;
}

const usageError = (message: string): number => printUsageError(message, USAGE);

async function probe(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      protocol: { type: 'string' },
      model: { type: 'string' },
      version: { type: 'string' },
      json: { type: 'boolean', default: false },
      'token-env': { type: 'string' },
      auth: { type: 'string', default: 'bearer' },
      header: { type: 'string' },
      binary: { type: 'boolean', default: false },
      'input-shape': { type: 'string' },
      layout: { type: 'string' },
      response: { type: 'string' },
      timeout: { type: 'string', default: '30000' },
    },
  });
  const target = positionals[0];
  if (!target || !values.protocol) return usageError('teacher probe needs a URL (or model file) and --protocol');
  if (values.auth !== 'bearer' && values.auth !== 'api-key') return usageError('--auth must be bearer or api-key');
  if (values.response && !RESPONSE_KINDS.includes(values.response as ResponseKind))
    return usageError(`--response must be one of ${RESPONSE_KINDS.join(', ')}`);
  const settings: Record<string, unknown> =
    values.protocol === 'onnx-local'
      ? { model: path.resolve(target) }
      : {
          url: target,
          modelName: values.model,
          modelVersion: values.version,
          binary: values.binary,
          timeoutMs: Number(values.timeout),
        };
  if (values.response) settings.responseKind = values.response;
  if (values['token-env'])
    settings.auth = {
      scheme: values.auth,
      env: values['token-env'],
      ...(values.header ? { header: values.header } : {}),
    };
  if (values['input-shape']) {
    const shape = values['input-shape'].split(',').map(Number);
    settings.input = { shape, layout: values.layout ?? 'NCHW', dtype: 'float32', scale: [0, 1] };
  }
  const t0 = performance.now();
  const teacher = await openTeacher(values.protocol, settings);
  try {
    const openMs = performance.now() - t0;
    const info = teacher.info;
    const dims = specImageDims(info.input);
    const per = dims.height * dims.width * dims.channels;
    // Two distinct images, a blank and a ramp: enough to see the shapes and the kind of reply.
    const batch = new Float32Array(2 * per);
    for (let i = 0; i < per; i++) batch[per + i] = i / per;
    const t1 = performance.now();
    const reply = await teacher.query(batch, 2);
    const latencyMs = performance.now() - t1;
    const report = {
      protocol: info.protocol,
      target: info.protocol === 'onnx-local' ? target : redactSecrets(target),
      id: info.id,
      name: info.name,
      input: { shape: info.input.shape, layout: info.input.layout, name: info.input.name ?? null },
      output: {
        kind: info.responseKind,
        numClasses: info.numClasses,
        topK: reply.topk?.k ?? null,
        classNames: info.classNames ?? null,
      },
      probe: { samples: 2 + (info.openQueries ?? 0), top1: Array.from(reply.top1) },
      openMs: Number(openMs.toFixed(1)),
      latencyMs: Number(latencyMs.toFixed(1)),
    };
    if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      process.stdout.write(
        table([
          ['teacher', `${report.name} via ${report.protocol}`],
          ['', ''],
          ['identity', report.id],
          [
            'input',
            `${JSON.stringify(report.input.shape)} ${report.input.layout}${report.input.name ? ` (${report.input.name})` : ''}`,
          ],
          [
            'reply',
            `${report.output.kind}${report.output.topK ? ` (k=${report.output.topK})` : ''}, ${report.output.numClasses} classes`,
          ],
          ['classes', report.output.classNames?.join(', ') ?? 'unnamed'],
          ['probe', `${report.probe.samples} sample(s) sent, top-1 ${report.probe.top1.join(', ')}`],
          ['latency', `${report.latencyMs} ms for 2 samples (open: ${report.openMs} ms)`],
        ]) + '\n',
      );
    }
    return 0;
  } finally {
    await teacher.close();
  }
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      port: { type: 'string', default: '0' },
      protocol: { type: 'string' },
      response: { type: 'string', default: 'logits' },
      'top-k': { type: 'string', default: '3' },
      'token-env': { type: 'string' },
      'rate-limit': { type: 'string' },
      'fail-rate': { type: 'string' },
      seed: { type: 'string', default: '1' },
      fp16: { type: 'boolean', default: false },
    },
  });
  if (!values.model) return usageError('teacher serve needs --model <manifest.json|model.onnx>');
  if (!(values.response in SERVE_RESPONSES))
    return usageError(`--response must be one of ${Object.keys(SERVE_RESPONSES).join(', ')}`);
  if (values.protocol && values.protocol !== 'kserve-v2' && values.protocol !== 'tf-serving')
    return usageError('--protocol must be kserve-v2 or tf-serving');
  let token: string | undefined;
  if (values['token-env']) {
    token = process.env[values['token-env']];
    if (!token) {
      process.stderr.write(`environment variable ${values['token-env']} is not set or empty\n`);
      return 2;
    }
    registerSecret(token);
  }
  const num = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v.replace(/\/s$/, ''));
    if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a non-negative number, got "${v}"`);
    return n;
  };
  const server = await startTeacherServer({
    model: path.resolve(values.model),
    port: num(values.port, '--port'),
    protocols: values.protocol ? [values.protocol as ServeProtocol] : undefined,
    response: values.response as ServeResponse,
    topK: num(values['top-k'], '--top-k'),
    token,
    rateLimit: num(values['rate-limit'], '--rate-limit'),
    failRate: num(values['fail-rate'], '--fail-rate'),
    seed: num(values.seed, '--seed'),
    fp16: values.fp16,
  });
  const m = server.model;
  const routes = [
    !values.protocol || values.protocol === 'kserve-v2' ? `kserve-v2: ${server.url}/v2/models/${m.name}/infer` : '',
    !values.protocol || values.protocol === 'tf-serving' ? `tf-serving: ${server.url}/v1/models/${m.name}:predict` : '',
  ].filter(Boolean);
  process.stdout.write(
    `teacher server ${server.url} model ${m.name} (${m.numClasses} classes, replies ${values.response}${token ? ', token required' : ''})\n  ${routes.join('\n  ')}\n  stats: ${server.url}/stats\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
