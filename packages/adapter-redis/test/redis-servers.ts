// The redis-server starters live in test-support/redis.ts (shared with the relay and conformance tests).
export * from '../../../test-support/redis.js';
