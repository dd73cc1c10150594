/**
 * The one typed contract between the UI and the engine, shared by the Electron preload, the
 * browser bridge and the renderer. Each channel is declared once here; the rest derives from it.
 * Pure types and data: this file must stay importable from the browser.
 */
export const API_CHANNELS = ['engine:version', 'students:list'] as const;
export type ApiChannel = (typeof API_CHANNELS)[number];

export interface StudentCard {
  key: string;
  title: string;
  params: number;
  flops: number;
}

export interface ApiContract {
  'engine:version': { request: Record<string, never>; response: { version: string } };
  'students:list': { request: Record<string, never>; response: StudentCard[] };
}

export function isApiChannel(x: unknown): x is ApiChannel {
  return typeof x === 'string' && (API_CHANNELS as readonly string[]).includes(x);
}
