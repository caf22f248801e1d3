// The RxDB collection P1 replicates, on both ends: the lib/docs.js documents (id inside, as CSE
// stores them). No validator plugin is added (RxDB validates only with one), as in production.
import { COLLECTION } from '../lib/docs.js';

export const RX_SCHEMA = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 64 },
    state: { type: 'string' },
    temp: { type: 'number' },
    pressure: { type: 'number' },
    rpm: { type: 'number' },
    uptimeSec: { type: 'number' },
    alarms: { type: 'array', items: { type: 'string' } },
    labels: { type: 'object' },
    lastError: {},
    target: { type: 'number' },
  },
  required: ['id'],
};

export const rxCollections = () => ({ [COLLECTION]: { schema: RX_SCHEMA } });
