import { batch } from '../lib/docs.js';

export default {
  id: 'W4',
  title: 'delta read: every change of a 10k-document store, pages of 100',
  unit: 'changes/s',
  target: undefined,
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
