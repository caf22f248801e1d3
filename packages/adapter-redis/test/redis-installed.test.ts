import { expect, it } from 'vitest';
import { assertRedisInstalled } from './redis-servers.js';

it('has redis-server and redis-cli, and the test servers started', () => {
  assertRedisInstalled();
  expect(process.env.CSE_REDIS_SETUP_ERROR).toBeUndefined();
});
