import { batch } from '../lib/docs.js';

export default {
  id: 'W4',
  title: 'delta read: every change of a 10k-document store, pages of 100',
  unit: 'changes/s',
  target: { maxSlowdown: 1.25, text: 'at least 0.8x raw (raw/CSE ≤ 1.25)' },
  run: (ctx) =>
    ctx.pair('w4', async (target) => {
      await target.seed(batch('doc-', 0, ctx.params.deltaStore));
      let cursor = 0;
      return async () => {
        const page = await target.changes(cursor, 100);
        cursor = page.hasMore ? page.cursor : 0;
        return page.count;
      };
    }),
};
