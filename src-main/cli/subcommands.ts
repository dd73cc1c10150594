/**
 * Command groups that parse their own arguments (`distill teacher …`, `distill export …`).
 * Each entry is one line: a lazy import of a module exporting `run(args): Promise<exit code>`.
 */
export interface Subcommand {
  run(args: string[]): Promise<number>;
}

export const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<Subcommand> }> = {};
