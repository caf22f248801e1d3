/**
 * Errors of the encrypted channel. Each is a `CseError` with a stable `code` and a stable
 * `reason` (also in `details.reason`), so callers can tell an attack from a refusal:
 *
 * - `PROTOCOL`: a frame failed authentication or arrived out of sequence (`tampered`, `replayed`,
 *   `gap`, `malformed`, `handshake`): the session is torn down, the Frontend reconnects.
 * - `FORBIDDEN`: the other end is not who it must be (`unpaired`, `edge-key-mismatch`,
 *   `bad-signature`, `pairing-refused`): the session is refused.
 * - `REVOKED` (reason `revoked`): the Edge revoked this Frontend (the Edge's handshake or the
 *   relay refused it): retrying will not help.
 */
import { CseError, ErrorCode } from '@cse/core';

export type SecureFailure =
  | 'tampered'
  | 'replayed'
  | 'gap'
  | 'malformed'
  | 'handshake'
  | 'unpaired'
  | 'revoked'
  | 'edge-key-mismatch'
  | 'bad-signature'
  | 'pairing-refused'
  | 'not-paired';

const FORBIDDEN_REASONS = new Set<SecureFailure>(['unpaired', 'edge-key-mismatch', 'bad-signature', 'pairing-refused', 'not-paired']);

export class SecureChannelError extends CseError {
  readonly reason: SecureFailure;

  constructor(reason: SecureFailure, message: string) {
    super(reason === 'revoked' ? ErrorCode.REVOKED : FORBIDDEN_REASONS.has(reason) ? ErrorCode.FORBIDDEN : ErrorCode.PROTOCOL, message, { details: { reason } });
    this.reason = reason;
  }

  override get name(): string {
    return 'SecureChannelError';
  }
}
