/**
 * The grant in a pairing record, signed by the Edge's identity key over the Frontend id and the
 * grant's canonical text. The Edge checks the signature every time it reads the record, so a
 * record copied to another Frontend id, or a grant edited in the store by anything that does not
 * hold the Edge key, is refused rather than obeyed.
 */
import type { Grant } from '../grants.js';
import { LEGACY_GRANT, canonicalGrant, normalizeGrant } from '../grants.js';
import { b64u, fromB64u, utf8 } from './bytes.js';
import type { Identity } from './identity.js';
import { verifySignature } from './identity.js';
import { SecureChannelError } from './secure-error.js';

function signedText(edgeId: string, frontendId: string, grant: Grant): Uint8Array {
  return utf8(`cse grant v1\n${edgeId}\n${frontendId}\n${canonicalGrant(grant)}`);
}

/** The fields a paired record keeps for its grant. */
export async function signGrant(identity: Identity, frontendId: string, grant: Grant): Promise<{ grant: Grant; grantSig: string }> {
  return { grant, grantSig: b64u(await identity.sign(signedText(identity.id, frontendId, grant))) };
}

/**
 * The grant of a stored paired record, its signature checked. A record from before grants (no
 * grant at all) has `LEGACY_GRANT`: what every paired Frontend could do then.
 * @throws `FORBIDDEN` (`bad-signature`) for a grant without a valid Edge signature for this Frontend.
 */
export async function verifiedGrant(identity: Identity, frontendId: string, doc: Record<string, unknown>): Promise<Grant> {
  if (doc.grant === undefined && doc.grantSig === undefined) return LEGACY_GRANT;
  let grant: Grant;
  try {
    grant = normalizeGrant(doc.grant);
  } catch {
    throw new SecureChannelError('bad-signature', 'the stored grant of this Frontend is malformed');
  }
  const sig = typeof doc.grantSig === 'string' ? fromB64u(doc.grantSig) : undefined;
  if (sig === undefined || !(await verifySignature(identity.publicKey, signedText(identity.id, frontendId, grant), sig))) {
    throw new SecureChannelError('bad-signature', 'the stored grant of this Frontend is not signed by this Edge for it');
  }
  return grant;
}
