export type { RelayOptions } from './options.js';
export { CloseCode, DEFAULTS } from './options.js';
export type { Relay, RelayStats } from './relay.js';
export { startRelay } from './relay.js';
export type { TokenClaims } from './keys.js';
export { EDGE_REGISTER_DOMAIN, TOKEN_DOMAIN, edgeIdOf } from './keys.js';
