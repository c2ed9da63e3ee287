import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../shared/storage/drivers/driver.ts';
import { createFsDriver } from '../../shared/storage/drivers/fs-driver.ts';
import { createS3Driver } from '../../shared/storage/drivers/s3-driver.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

/** The contract every storage driver must meet. */
function driverContract(name: string, make: () => StorageDriver) {
  describe(`${name} driver contract`, () => {
    let d: StorageDriver;
    beforeAll(() => {
      d = make();
    });

    it('reads back what it wrote, and stat reports its size', async () => {
      const st = await d.write('a/b/hello.txt', 'hello world');
      expect(st.size).toBe(11);
      expect((await d.read('a/b/hello.txt'))?.toString()).toBe('hello world');
      const s = await d.stat('a/b/hello.txt');
      expect(s?.size).toBe(11);
      expect(s?.mtime).toBeInstanceOf(Date);
    });

    it('returns null for missing items instead of throwing', async () => {
      expect(await d.read('missing/item')).toBeNull();
      expect(await d.stat('missing/item')).toBeNull();
      expect(await d.stream('missing/item')).toBeNull();
    });

    it('writes streams, and overwrites atomically', async () => {
      await d.write('s/data.bin', Readable.from([Buffer.from('part1-'), Buffer.from('part2')]));
      expect((await d.read('s/data.bin'))?.toString()).toBe('part1-part2');
      await d.write('s/data.bin', Buffer.from('replaced'));
      expect((await d.read('s/data.bin'))?.toString()).toBe('replaced');
    });

    it('leaves the old content when a streamed write fails midway', async () => {
      await d.write('atomic/f.txt', 'old');
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(new Error('source broke'));
        },
      });
      await expect(d.write('atomic/f.txt', failing)).rejects.toThrow();
      expect((await d.read('atomic/f.txt'))?.toString()).toBe('old');
      const keys: string[] = [];
      for await (const item of d.list('atomic/')) keys.push(item.key);
      expect(keys).toEqual(['atomic/f.txt']);
    });

    it('lists items under a prefix in key order', async () => {
      await d.write('l/2.txt', '2');
      await d.write('l/1.txt', '1');
      await d.write('l/sub/3.txt', '3');
      await d.write('lx/other.txt', 'x');
      const keys: string[] = [];
      for await (const item of d.list('l/')) keys.push(item.key);
      expect(keys).toEqual(['l/1.txt', 'l/2.txt', 'l/sub/3.txt']);
    });

    it('streams whole items and byte ranges', async () => {
      await d.write('r/range.txt', '0123456789');
      expect(await text((await d.stream('r/range.txt')) as Readable)).toBe('0123456789');
      expect(await text((await d.stream('r/range.txt', { start: 2, end: 5 })) as Readable)).toBe(
        '2345',
      );
    });

    it('deletes, and deleting a missing item is not an error', async () => {
      await d.write('del/x.txt', 'x');
      await d.delete('del/x.txt');
      expect(await d.stat('del/x.txt')).toBeNull();
      await expect(d.delete('del/x.txt')).resolves.toBeUndefined();
    });

    it('refuses keys that leave its root', async () => {
      for (const key of ['../x', '/etc/passwd', 'a/../../b', 'a\\b', '', 'a//b']) {
        await expect(d.write(key, 'x')).rejects.toMatchObject({ status: 400 });
        await expect(d.read(key)).rejects.toMatchObject({ status: 400 });
      }
    });
  });
}

let stack: TestStack;
let fsRoot: string;
beforeAll(async () => {
  stack = await createTestStack();
  fsRoot = await mkdtemp(path.join(os.tmpdir(), 'sluice-fsdriver-'));
});
afterAll(async () => {
  await stack.close();
  await rm(fsRoot, { recursive: true, force: true });
});

driverContract('filesystem', () => createFsDriver({ root: fsRoot }));
driverContract('s3', () =>
  createS3Driver({ client: stack.services.s3.internal, bucket: stack.bucket, prefix: 'contract/' }),
);

describe('filesystem driver specifics', () => {
  it('leaves no temp files behind and refuses symlinks out of the root', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'sluice-fsdriver2-'));
    const outside = await mkdtemp(path.join(os.tmpdir(), 'sluice-outside-'));
    await writeFile(path.join(outside, 'secret'), 's');
    await mkdir(path.join(root, 'u'));
    await symlink(outside, path.join(root, 'u', 'link'));
    const d = createFsDriver({ root });
    await d.write('u/file.txt', 'x');
    expect(await readdir(path.join(root, 'u'))).toEqual(['file.txt', 'link'].sort());
    await expect(d.read('u/link/secret')).rejects.toMatchObject({ code: 'PATH_ESCAPES_BASE' });
    await expect(d.write('u/link/new', 'x')).rejects.toMatchObject({ code: 'PATH_ESCAPES_BASE' });
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });
});
