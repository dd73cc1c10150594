/**
 * Teacher adapters registered by protocol key; a recipe's `teacher.protocol` picks one.
 * Adding a protocol is one file plus one `registerTeacherAdapter` line.
 */
import type { Teacher } from './teacher.ts';

export type TeacherFactory = (settings: Record<string, unknown>) => Promise<Teacher>;

const adapters = new Map<string, TeacherFactory>();

export function registerTeacherAdapter(key: string, factory: TeacherFactory): void {
  adapters.set(key, factory);
}

export function teacherProtocols(): string[] {
  return [...adapters.keys()].sort();
}

export async function openTeacher(protocol: string, settings: Record<string, unknown>): Promise<Teacher> {
  const factory = adapters.get(protocol);
  if (!factory) throw new Error(`unknown teacher protocol "${protocol}"; known: ${teacherProtocols().join(', ')}`);
  return factory(settings);
}
