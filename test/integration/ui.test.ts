import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { type NodeServer, serveNode } from '../../shared/http/serve-node.ts';
import { CHROMIUM, ensureChromium } from '../helpers/browser.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let server: NodeServer;
let base: string;
let admin: string;
const unavailable = ensureChromium();

beforeAll(async () => {
  stack = await createTestStack();
  const app = createApp('all', stack.services);
  server = await serveNode(app, { port: 0, hostname: '127.0.0.1' });
  base = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  admin = await stack.token('root', ['admin']);
  const etag = await putObject(stack, 'lab/status.h5', 'test/fixtures/hdf5/pytables_itemsize.h5');
  await postEvent(app, minioBody(stack.bucket, 'lab/status.h5', etag));
  const bad = await putObject(stack, 'lab/broken.h5', new TextEncoder().encode('not hdf5'));
  await postEvent(app, minioBody(stack.bucket, 'lab/broken.h5', bad));
}, 120_000);
afterAll(async () => {
  await server.close(1000);
  await stack.close();
});

describe('status page', () => {
  it('is for admins only', async () => {
    expect((await fetch(`${base}/ui`)).status).toBe(401);
    expect((await fetch(`${base}/ui?token=${await stack.token('amick')}`)).status).toBe(403);
    const html = await (await fetch(`${base}/ui?token=${admin}`)).text();
    expect(html).toContain('<meta http-equiv="refresh" content="10"/>');
    expect(html).toContain('job_status');
  });

  it.skipIf(unavailable !== undefined)(
    `renders /ui and /docs in headless Chromium${unavailable ? ` (skipped: ${unavailable})` : ''}`,
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
        await page.goto(`${base}/ui?token=${admin}`);
        const rows = page.locator('#ingest-jobs tbody tr');
        expect(await rows.count()).toBe(2);
        expect(await page.locator('#ingest-jobs').isVisible()).toBe(true);
        expect(
          await rows.filter({ hasText: 'lab/status.h5' }).locator('td.done').textContent(),
        ).toBe('done');
        expect(
          await rows
            .filter({ hasText: 'lab/broken.h5' })
            .locator('td.failed')
            .first()
            .textContent(),
        ).toBe('failed');
        const shot = await page.locator('#ingest-jobs').screenshot();
        // A rendered table is a real image, not a blank one: many distinct byte values, a sensible size.
        expect(shot.length).toBeGreaterThan(2000);
        expect(new Set(shot.subarray(100, 2100)).size).toBeGreaterThan(50);
        await page.goto(`${base}/docs`);
        expect(await page.textContent('h1.title')).toBe('Sluice sluice API');
        expect(await page.locator('.op').count()).toBeGreaterThan(25);
        expect(await page.locator('.op', { hasText: '/api/v1/uploads' }).first().isVisible()).toBe(
          true,
        );
      } finally {
        await browser.close();
      }
    },
    120_000,
  );
});
