import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createWebhookRelay,
  minioEscape,
  toMinioWebhookBodies,
} from '../../infra/local/event-relay.ts';

const record = (key: string) => ({
  Records: [
    {
      eventName: 'ObjectCreated:Put',
      eventTime: '2026-01-01T00:00:00.000Z',
      s3: { bucket: { name: 'sluice' }, object: { key, size: 3, eTag: 'abc' } },
    },
  ],
});

describe('local S3 -> MinIO-style webhook relay', () => {
  it('escapes keys the way MinIO does', () => {
    expect(minioEscape('Tile_+002_+002.mtl')).toBe('Tile_%2B002_%2B002.mtl');
    expect(minioEscape('dir/my file.h5')).toBe('dir%2Fmy+file.h5');
    expect(minioEscape('需求.md')).toBe('%E9%9C%80%E6%B1%82.md');
  });

  it('builds one MinIO body per record, with a raw top-level Key', () => {
    const [body] = toMinioWebhookBodies(record('u/a+b.h5')) as {
      EventName: string;
      Key: string;
      Records: { eventName: string; s3: { object: { key: string } } }[];
    }[];
    expect(body?.EventName).toBe('s3:ObjectCreated:Put');
    expect(body?.Key).toBe('sluice/u/a+b.h5');
    expect(body?.Records[0]?.s3.object.key).toBe('u%2Fa%2Bb.h5');
  });

  it('retries failed deliveries in order until they succeed', async () => {
    const received: string[] = [];
    let failures = 2;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        if (failures-- > 0) {
          res.writeHead(503).end();
          return;
        }
        expect(req.headers.authorization).toBe('Bearer tok');
        received.push((JSON.parse(body) as { Key: string }).Key);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const relay = createWebhookRelay({ url: `http://127.0.0.1:${port}/minio-event`, token: 'tok' });
    relay.push(record('one.h5'));
    relay.push(record('two.h5'));
    const t0 = Date.now();
    while (relay.pending() > 0 && Date.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 50));
    relay.stop();
    server.close();
    expect(received).toEqual(['sluice/one.h5', 'sluice/two.h5']);
  });

  it('a delivery that never answers is cut off and retried later, without holding up the next events', async () => {
    const received: string[] = [];
    let stuckTries = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const key = (JSON.parse(body) as { Key: string }).Key;
        // The stuck object hangs its first two deliveries (an ingest that never ends), then succeeds.
        if (key === 'sluice/stuck.h5' && stuckTries++ < 2) return;
        received.push(key);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const relay = createWebhookRelay({
      url: `http://127.0.0.1:${port}/minio-event`,
      timeoutMs: 300,
      baseDelayMs: 100,
    });
    relay.push(record('stuck.h5'));
    relay.push(record('next-1.h5'));
    relay.push(record('next-2.h5'));
    const t0 = Date.now();
    while (relay.pending() > 0 && Date.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 20));
    relay.stop();
    server.closeAllConnections();
    server.close();
    expect(stuckTries).toBe(3);
    // The later events went first; the stuck one arrived once it answered.
    expect(received).toEqual(['sluice/next-1.h5', 'sluice/next-2.h5', 'sluice/stuck.h5']);
  });
});
