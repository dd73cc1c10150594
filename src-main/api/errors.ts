/**
 * The error codes and guards of the contract, apart from its zod schemas, so the renderer can use
 * them at run time without bundling zod (contract.ts re-exports all of this). Browser-safe.
 */
export { ERROR_CODES, isErrorCode, isApiError, errorCode, type ErrorCode, type ApiError } from '../util/errors.ts';
export { fromApiError, RemoteError, type ApiFailure, type ApiReply } from '../util/serialize-error.ts';
