/** Teacher tokens into the vault, and a probe of a teacher connection before any run uses it. */
import path from 'node:path';
import type { TeacherConnection } from '../api/contract.ts';
import { openTeacher } from '../teachers/index.ts';
import { specImageDims } from '../teachers/preprocess.ts';
import type { ApiHandlers, ServiceContext } from './context.ts';

export function teacherHandlers(ctx: ServiceContext): Pick<ApiHandlers, 'secrets:set' | 'teacher:test'> {
  return {
    'secrets:set': async ({ key, token }) => {
      ctx.vault.set(key, token);
      return { key, where: ctx.vault.where };
    },

    'teacher:test': async (conn) => {
      const teacher = await openTeacher(conn.protocol, teacherSettings(conn, ctx.tokenFor(conn.tokenKey)));
      try {
        const info = teacher.info;
        const dims = specImageDims(info.input);
        const per = dims.height * dims.width * dims.channels;
        // A blank image and a ramp: enough to see the reply's shape and kind.
        const batch = new Float32Array(2 * per);
        for (let i = 0; i < per; i++) batch[per + i] = i / per;
        const t0 = performance.now();
        await teacher.query(batch, 2);
        const latencyMs = performance.now() - t0;
        return {
          name: info.name,
          id: info.id,
          protocol: info.protocol,
          inputShape: info.input.shape.map(Number),
          layout: info.input.layout,
          responseKind: info.responseKind,
          numClasses: info.numClasses,
          classNames: info.classNames ?? null,
          latencyMs: Number(latencyMs.toFixed(1)),
          ...dims,
        };
      } finally {
        await teacher.close();
      }
    },
  };
}

function teacherSettings(conn: TeacherConnection, token: string | undefined): Record<string, unknown> {
  const input = conn.input ? { dtype: 'float32', scale: [0, 1], ...conn.input } : undefined;
  if (conn.protocol === 'onnx-local') return { model: path.resolve(conn.target), ...(input ? { input } : {}) };
  return {
    url: conn.target,
    modelName: conn.modelName || undefined,
    ...(input ? { input } : {}),
    ...(token ? { auth: { scheme: 'bearer', token } } : {}),
  };
}
