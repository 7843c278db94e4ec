import type { ShelfsyncError } from './errors.js';

/**
 * A ShelfsyncError thrown by a service where returning it would not fit (the
 * replica cannot take writes, its storage failed). An edge maps it like any
 * other coded error: HTTP problem+json, a close code, an exit code.
 */
export class ShelfsyncFailure extends Error {
  override readonly name: string = 'ShelfsyncFailure';
  constructor(readonly error: ShelfsyncError) {
    super(error.detail);
  }
}
