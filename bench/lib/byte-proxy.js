// A loopback TCP proxy that counts the bytes it carries both ways: what a connection really puts
// on the wire (WebSocket framing and compression included), for the bytes-per-change figures.
import { createConnection, createServer } from 'node:net';

/** Proxies 127.0.0.1:<port> to `target` ({ host, port }); `bytes` counts both directions. */
export async function byteProxy(target) {
  const counter = { bytes: 0 };
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (b) => {
      counter.bytes += b.length;
      upstream.write(b);
    });
    upstream.on('data', (b) => {
      counter.bytes += b.length;
      client.write(b);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    counter,
    url: `ws://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
