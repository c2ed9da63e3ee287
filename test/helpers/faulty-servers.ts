import net from 'node:net';

/** A TCP port that accepts connections and never answers: a hung server, not a refused one. */
export async function hungServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * A TCP proxy to `upstream` that forwards the first `afterBytes` bytes of each response and then holds
 * the rest: `stalled` resolves when a response is held there, `cut()` then drops the connections (the
 * store went away in the middle of a download).
 */
export async function cuttingProxy(upstream: string, afterBytes: number) {
  const target = new URL(upstream);
  const sockets = new Set<net.Socket>();
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((r) => {
    onStall = r;
  });
  const server = net.createServer((client) => {
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(up);
    client.on('error', () => {});
    up.on('error', () => {});
    client.pipe(up);
    let sent = 0;
    up.on('data', (chunk: Buffer) => {
      if (sent >= afterBytes) return;
      const room = afterBytes - sent;
      client.write(chunk.subarray(0, room));
      sent += Math.min(room, chunk.length);
      if (sent >= afterBytes) onStall();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stalled,
    cut() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
