import { batch, observed } from '../lib/docs.js';

export default {
  id: 'W2',
  title: 'update with a version check: replace a document, passing its expected version',
  unit: 'updates/s',
  target: { maxSlowdown: 1.15, text: 'at least 0.87x raw (raw/CSE ≤ 1.15)' },
  run: (ctx) =>
    ctx.pair('w2', async (target) => {
      const pool = ctx.params.updatePool;
      await target.seed(batch('doc-', 0, pool));
      const versions = new Array(pool).fill(1);
      let n = 0;
      return async () => {
        const i = n % pool;
        versions[i] = await target.update(`doc-${i}`, observed(n + 1), versions[i]);
        n++;
        return 1;
      };
    }),
};
