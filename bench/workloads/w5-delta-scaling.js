import { batch } from '../lib/docs.js';

// The newest 100 changes, from a small and from a large store: a delta read costs O(delta),
// so the page time should not grow with the store (target: large/small below 1.5). All four
// stores (raw and CSE, small and large) are filled before anything is measured, so both sizes
// are measured with the same heap and the same files open.
const newestPage = async (target, size) => {
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
  target: { maxScaling: 1.5, maxSlowdown: 1.25, text: 'page at least 0.8x raw (raw/CSE ≤ 1.25) and large/small page time < 1.5' },
  async run(ctx) {
    const { scaleSmall, scaleLarge } = ctx.params;
    const steps = { small: {}, large: {} };
    for (const side of ['raw', 'cse']) {
      steps.small[side] = await newestPage(await ctx.open(side, 'w5s'), scaleSmall);
      steps.large[side] = await newestPage(await ctx.open(side, 'w5l'), scaleLarge);
    }
    const small = await ctx.measure(steps.small);
    const large = await ctx.measure(steps.large);
    // Page time ratio = (1 / large rate) / (1 / small rate).
    const scaling = (side) => small[side].opsPerSec / large[side].opsPerSec;
    return {
      cse: large.cse,
      raw: large.raw,
      pairedSlowdown: large.pairedSlowdown,
      small: { size: scaleSmall, cse: small.cse, raw: small.raw, pairedSlowdown: small.pairedSlowdown },
      large: { size: scaleLarge },
      scaling: { cse: scaling('cse'), raw: scaling('raw') },
    };
  },
};
