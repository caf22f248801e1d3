// Simulated Edges for the fleet bench, in their own process: each has its own P-256 key
// (WebCrypto), registers on a node with the signed challenge (spread over the nodes in turn),
// and answers every session request by opening the data connection to the URL it names,
// accepting, and sending one frame. `{ t: 'tokens', n }` returns n tokens of random Edges
// (with the index of each Edge's node) for the Frontends.
import { WebSocket } from 'ws';

const { urls, count, concurrency } = JSON.parse(process.argv[2]);
const subtle = globalThis.crypto.subtle;
const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
const utf8 = new TextEncoder();
const REGISTER = 'cse-relay edge-register v1\n';
const TOKEN = 'cse-relay token v1\n';

const edges = [];
let registered = 0;

async function start(i) {
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const spki = new Uint8Array(await subtle.exportKey('spki', pair.publicKey));
  const edgeId = b64u(new Uint8Array(await subtle.digest('SHA-256', spki)));
  const home = i % urls.length;
  const e = { edgeId, key: pair.privateKey, home };
  edges.push(e);
  await new Promise((resolve, reject) => {
    const ws = new WebSocket(`${urls[home]}/edge`);
    ws.on('error', reject);
    ws.on('message', async (data) => {
      const m = JSON.parse(String(data));
      if (m.t === 'challenge') {
        const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, utf8.encode(REGISTER + m.nonce)));
        ws.send(JSON.stringify({ t: 'register', publicKey: b64u(spki), signature: b64u(sig) }));
      } else if (m.t === 'registered') {
        registered++;
        resolve();
      } else if (m.t === 'session') {
        const d = new WebSocket(`${m.url ?? urls[home]}/session`);
        d.on('error', () => undefined);
        d.on('open', () => {
          d.send(JSON.stringify({ t: 'accept', sid: m.sid }));
          d.send('first frame from the edge');
        });
        d.on('message', () => d.close());
      }
    });
  });
}

let next = 0;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) await start(next++);
  }),
);
process.send({ t: 'ready', registered, ms: Date.now() - t0 });

process.on('message', async (m) => {
  if (m.t !== 'tokens') return;
  const out = [];
  for (let k = 0; k < m.n; k++) {
    const e = edges[Math.floor(Math.random() * edges.length)];
    const frontendId = b64u(globalThis.crypto.getRandomValues(new Uint8Array(32)));
    const body = b64u(utf8.encode(JSON.stringify({ edgeId: e.edgeId, frontendId })));
    const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, e.key, utf8.encode(TOKEN + body)));
    out.push({ edgeId: e.edgeId, home: e.home, token: `${body}.${b64u(sig)}` });
  }
  process.send({ t: 'tokens', tokens: out });
});
