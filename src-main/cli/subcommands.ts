/**
 * Command groups that parse their own arguments (`distill teacher …`, `distill export …`).
 * Each entry is one line: a lazy import of a module exporting `run(args): Promise<exit code>`.
 */
export interface Subcommand {
  run(args: string[]): Promise<number>;
}

export const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<Subcommand> }> = {
  experiment: { summary: 'run an experiment grid', load: () => import('./experiment-command.ts') },
  export: { summary: 'write an edge bundle from a run', load: () => import('./export-command.ts') },
  teacher: { summary: 'probe or serve a teacher', load: () => import('./teacher-command.ts') },
  serve: { summary: 'serve the UI and API on 127.0.0.1', load: () => import('./serve-command.ts') },
};
