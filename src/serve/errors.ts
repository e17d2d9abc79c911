/**
 * `InferenceError`: a request-level failure that carries its HTTP status (and headers such as
 * `Retry-After`). The server answers it as `{"error": "<message>"}`; the client throws it back.
 */
import { TrainferError } from '../util/errors.js';

/** Why a request failed, as the failure metric's `reason` label spells it. */
export type FailureReason = 'invalid' | 'not_found' | 'rejected' | 'timeout' | 'canceled' | 'backend';

/** A one-line error with an HTTP status. */
export class InferenceError extends TrainferError {
  constructor(
    message: string,
    /** HTTP status: 400 bad request, 404 unknown model, 413 too large, 503 queue full, 504 timeout, 500 backend. */
    readonly status: number,
    /** Extra response headers (e.g. `Retry-After`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The failure metric reason for this status. */
  get reason(): FailureReason {
    switch (this.status) {
      case 404: return 'not_found';
      case 503: return 'rejected';
      case 504: return 'timeout';
      case 499: return 'canceled';
      case 500: return 'backend';
      default: return 'invalid';
    }
  }
}

/** 400 with a message. */
export function badRequest(message: string): InferenceError {
  return new InferenceError(message, 400);
}
