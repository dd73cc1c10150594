import type { DistillMethod } from './method.ts';

const methods = new Map<string, DistillMethod>();

export function registerMethod(m: DistillMethod): void {
  methods.set(m.key, m);
}

export function getMethod(key: string): DistillMethod {
  const m = methods.get(key);
  if (!m)
    throw new Error(
      `unknown method "${key}"; known: ${listMethods()
        .map((x) => x.key)
        .join(', ')}`,
    );
  return m;
}

export function listMethods(): DistillMethod[] {
  return [...methods.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** Problems with a method block, as recipe-style messages (empty when fine). */
export function checkMethodBlock(key: string, kwargs: Record<string, unknown>): string[] {
  const m = methods.get(key);
  if (!m)
    return [
      `method.key: unknown method "${key}"; known: ${listMethods()
        .map((x) => x.key)
        .join(', ')}`,
    ];
  const parsed = m.kwargs.safeParse(kwargs);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => `method.kwargs${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
}
