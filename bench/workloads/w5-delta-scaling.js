import { batch } from '../lib/docs.js';

// The newest 100 changes, from a small and from a large store: a delta read costs O(delta),
// so the page time should not grow with the store (target: large/small below 1.5).
const newestPage = (size) => async (target) => {
  await target.seed(batch('doc-', 0, size));
  const last = await target.lastSyncId();
  return async () => {
    const page = await target.changes(last - 100, 100);
    if (page.count !== 100) throw new Error(`expected 100 changes, got ${page.count}`);
    return 1;
  };
};

export default {
  id: 'W5',
  title: 'delta scaling: one page of the newest 100 changes, small vs large store',
  unit: 'pages/s',
  target: { maxScaling: 1.5, text: 'large/small page time < 1.5' },
  async run(ctx) {
    const { scaleSmall, scaleLarge } = ctx.params;
    const small = await ctx.pair(`w5s`, newestPage(scaleSmall));
    const large = await ctx.pair(`w5l`, newestPage(scaleLarge));
    // Page time ratio = (1 / large rate) / (1 / small rate).
    const scaling = (side) => small[side].opsPerSec / large[side].opsPerSec;
    return {
      cse: large.cse,
      raw: large.raw,
      small: { size: scaleSmall, cse: small.cse, raw: small.raw },
      large: { size: scaleLarge },
      scaling: { cse: scaling('cse'), raw: scaling('raw') },
    };
  },
};
