import { observed } from '../lib/docs.js';

export default {
  id: 'W1',
  title: 'single save: saveObserved of a new worker, one commit each',
  unit: 'saves/s',
  target: { maxSlowdown: 1.15, text: 'at least 0.87x raw (raw/CSE ≤ 1.15)' },
  run: (ctx) =>
    ctx.pair('w1', (target) => {
      let n = 0;
      return async () => {
        await target.saveNew(`worker-${n}`, observed(n));
        n++;
        return 1;
      };
    }),
};
