import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { confinedJoin, splitRelative } from '../resolve-path.ts';
import type { ByteRange, ItemStat, StorageDriver } from './driver.ts';

const TMP_MARK = '.sluice-tmp-';

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A driver over a directory tree (local disk or an NFS/VAST mount). */
export function createFsDriver(opts: { root: string }): StorageDriver {
  const root = path.resolve(opts.root);
  // The root itself may be reached through a symlink (a mount alias): confine to where it really is.
  let realRoot: Promise<string> | undefined;
  const locate = async (key: string) => {
    const segments = splitRelative(key, 'key');
    realRoot ??= realpath(root).catch(() => {
      realRoot = undefined;
      return root;
    });
    return confinedJoin(await realRoot, segments, root);
  };

  const statOf = async (key: string, file: string): Promise<ItemStat | null> => {
    try {
      const st = await stat(file);
      if (!st.isFile()) return null;
      return { key, size: st.size, mtime: st.mtime };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  };

  async function* walk(dir: string, rel: string): AsyncGenerator<ItemStat> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith(TMP_MARK)) continue;
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) yield* walk(path.join(dir, e.name), key);
      else if (e.isFile()) {
        const s = await statOf(key, path.join(dir, e.name));
        if (s) yield s;
      }
    }
  }

  return {
    kind: 'fs',
    async read(key) {
      const file = await locate(key);
      try {
        return await readFile(file);
      } catch (err) {
        if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return null;
        throw err;
      }
    },
    async write(key, data) {
      const file = await locate(key);
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = path.join(path.dirname(file), `${TMP_MARK}${randomBytes(6).toString('hex')}`);
      try {
        const source =
          typeof data === 'string' || data instanceof Uint8Array
            ? Readable.from([Buffer.from(data)])
            : data;
        await pipeline(source, createWriteStream(tmp, { flags: 'wx' }));
        // fsync before rename so a crash cannot leave a renamed-but-empty file.
        const fh = await open(tmp, 'r');
        await fh.sync().finally(() => fh.close());
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => {});
        throw err;
      }
      return (await statOf(key, file)) as ItemStat;
    },
    async stat(key) {
      return statOf(key, await locate(key));
    },
    async *list(prefix = '') {
      // Walk only the deepest directory the prefix names fully, then filter by the remainder.
      const cut = prefix.lastIndexOf('/');
      const dirPart = cut >= 0 ? prefix.slice(0, cut) : '';
      const dir = dirPart ? await locate(dirPart) : root;
      for await (const item of walk(dir, dirPart)) if (item.key.startsWith(prefix)) yield item;
    },
    async delete(key) {
      await rm(await locate(key), { force: true });
    },
    async stream(key, range?: ByteRange) {
      const file = await locate(key);
      const s = await statOf(key, file);
      if (!s) return null;
      return createReadStream(file, range ? { start: range.start, end: range.end } : {});
    },
  };
}
