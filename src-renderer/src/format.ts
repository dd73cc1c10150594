/** Small display helpers shared by the steps. */
export const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)}%`);
export const num = (x: number): string => x.toLocaleString('en-US');
export const bytes = (b: number): string => (b > 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);
export const secs = (s: number): string => (!Number.isFinite(s) ? '—' : s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
