import { batch } from '../lib/docs.js';

export default {
  id: 'W3',
  title: 'batch: 1000 new documents in one transaction',
  unit: 'docs/s',
  target: { maxSlowdown: 2, text: 'at least half of raw' },
  run: (ctx) =>
    ctx.pair('w3', (target) => {
      let k = 0;
      return async () => {
        const docs = batch(`b${k++}-`, 0, ctx.params.batchSize);
        await target.insertBatch(docs);
        return docs.length;
      };
    }),
};
