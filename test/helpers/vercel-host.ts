// Hosts the Vercel entry on a plain Node http server, as Vercel's Node runtime calls it.
import { createServer } from 'node:http';
import handler from '../../functions/runtimes/vercel.ts';

const server = createServer((req, res) => {
  void handler(req as never, res as never);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`,
  );
});
