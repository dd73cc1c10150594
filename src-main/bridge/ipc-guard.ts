/**
 * The checks every Electron IPC call passes before it reaches a handler, kept free of electron so
 * tests can drive it with crafted events: the sender must be one of our windows and its frame must
 * show our own app:// page; the channel and payload must satisfy the contract.
 */
import { ContractError, parseRequest } from '../api/contract.ts';
import { DistillError } from '../util/errors.ts';

/** The parts of Electron's IpcMainInvokeEvent the guard reads. */
export interface IpcEventLike {
  sender: { id: number };
  senderFrame?: { url: string } | null;
}

/** An IPC call from a sender that is not one of our windows, or from a page not ours. */
export class IpcSenderError extends DistillError {
  override name = 'IpcSenderError';
  readonly code = 'ipc-sender';
}

export const APP_ORIGIN = 'app://distill';

/** Throws IpcSenderError unless the event comes from our window showing our own page. */
export function checkSender(event: IpcEventLike, isOurWindow: (webContentsId: number) => boolean): void {
  if (!isOurWindow(event.sender.id)) throw new IpcSenderError('IPC from a sender that is not one of our windows');
  const url = event.senderFrame?.url ?? '';
  if (!url.startsWith(`${APP_ORIGIN}/`))
    throw new IpcSenderError(`IPC from a page that is not ours (${url.slice(0, 80) || 'no frame'})`);
}

export function guardIpc(opts: {
  isOurWindow: (webContentsId: number) => boolean;
  dispatch: (channel: string, request: unknown) => Promise<unknown>;
}) {
  return async (event: IpcEventLike, channel: unknown, payload: unknown): Promise<unknown> => {
    checkSender(event, opts.isOurWindow);
    const { channel: c, request } = parseRequest(channel, payload);
    return opts.dispatch(c, request);
  };
}

export { ContractError };
