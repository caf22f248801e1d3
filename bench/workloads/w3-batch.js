import { batch } from '../lib/docs.js';

export default {
  id: 'W3',
  title: 'batch: 1000 new documents in one commit (Store.insertMany)',
  unit: 'docs/s',
  target: { maxSlowdown: 1.25, text: 'at least 0.8x raw (raw/CSE ≤ 1.25)' },
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
