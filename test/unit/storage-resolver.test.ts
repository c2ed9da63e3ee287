import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { AppError } from '../../shared/errors.ts';
import { isWithin } from '../../shared/storage/resolve-path.ts';
import { StorageResolver } from '../../shared/storage/resolver.ts';

let root: string;
let base: string;
let outside: string;
let resolver: StorageResolver;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sluice-resolver-'));
  base = path.join(root, 'vast');
  outside = path.join(root, 'secret');
  await mkdir(path.join(base, 'amick', 'run1'), { recursive: true });
  await mkdir(path.join(base, 'sam'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(outside, 'passwd'), 'root:x:0:0');
  await writeFile(path.join(base, 'amick', 'run1', 'data.h5'), 'payload');
  // Symlinks that lead out of the base, directly, through a chain, and dangling.
  await symlink(outside, path.join(base, 'amick', 'escape-dir'));
  await symlink(path.join(outside, 'passwd'), path.join(base, 'amick', 'escape-file'));
  await symlink('../../secret', path.join(base, 'amick', 'escape-rel'));
  await symlink(path.join(base, 'amick', 'escape-dir'), path.join(base, 'amick', 'chain'));
  await symlink(path.join(root, 'does-not-exist'), path.join(base, 'amick', 'dangling'));
  await symlink(outside, path.join(base, 'evil-user'));
  // A symlink that stays inside the base is fine.
  await symlink(path.join(base, 'amick', 'run1'), path.join(base, 'amick', 'latest'));
  resolver = new StorageResolver([{ name: 'vast', type: 'nfs', basePath: base }], { bucket: 'b' });
});

afterAll(() => rm(root, { recursive: true, force: true }));

/** 100+ hostile relative paths: traversal spelled every way we could think of. */
const hostile: string[] = [
  '..',
  '../',
  '../passwd',
  '../../secret/passwd',
  '../../../../../../etc/passwd',
  'run1/../../sam',
  'run1/../../../secret/passwd',
  'a/b/../../..',
  'a/../../b',
  './../secret',
  '.',
  './',
  './data.h5',
  'run1/./data.h5',
  'run1/.',
  '/etc/passwd',
  '/',
  '//etc/passwd',
  '///',
  '/..',
  '/vast/amick/run1/data.h5',
  'C:\\Windows\\system32',
  'C:/Windows/system32',
  'c:secret',
  'Z:\\',
  '\\\\server\\share\\file',
  '\\..\\..\\secret',
  '..\\..\\secret\\passwd',
  'run1\\..\\..\\secret',
  'run1\\data.h5',
  '\\',
  'run1//data.h5',
  'run1/',
  'run1///',
  '',
  'a\0b',
  'data.h5\0.png',
  '\0',
  '../\0',
  'run1/\u0000/data.h5',
  'run1/\u0001data',
  'run1/\u001fdata',
  'run1/\u007fdata',
  'run1/\ndata',
  'run1/\rdata',
  'run1/\tdata',
  'escape-dir/passwd',
  'escape-dir',
  'escape-file',
  'escape-rel/passwd',
  'escape-rel',
  'chain/passwd',
  'chain',
  'dangling',
  'dangling/new-file',
  'escape-dir/new-output.h5',
  'escape-dir/sub/dir/new.h5',
  'chain/new.h5',
  `${'x'.repeat(256)}`,
  `run1/${'y'.repeat(300)}`,
  'a/'.repeat(2100),
  'run1/../run1/data.h5',
  'sam/..',
  'amick/../../..',
  '../amick/run1/data.h5',
  ...['..', '../..', '../../..', '../../../..', '../../../../..'].map((p) => `${p}/secret/passwd`),
  ...['..', '.'].flatMap((d) => [`${d}/`, `/${d}`, `x/${d}`, `x/${d}/y`, `${d}/x`]),
  ...['/etc/shadow', '/proc/self/environ', '/root/.ssh/id_rsa', '/var/run/secrets/token'].map(
    (p) => p,
  ),
  ...['\\etc\\passwd', 'x\\..\\..\\y', '..\\', '.\\x'].map((p) => p),
  ...['C:', 'D:\\data', 'e:/data', 'Q:..\\x'].map((p) => p),
  ...['run1/../..', 'run1/../../', 'run1/../../amick', 'sam/../../secret'].map((p) => p),
  ...['escape-dir/../passwd', 'escape-dir/./passwd', 'escape-rel/x/y', 'chain/a/b'].map((p) => p),
  ...['\t/etc/passwd', '\n../x'].map((p) => p),
  ...['..\u0000/x', 'x/..\u0000', '\u0000..'].map((p) => p),
];

/** Strings that look dangerous but, as literal names, stay inside the base (percent, unicode). */
const harmlessLookalikes: string[] = [
  '%2e%2e/%2e%2e/secret',
  '..%2f..%2fsecret',
  ' /etc/passwd',
  ' ..',
  '%2e%2e%2fsecret',
  '..%c0%af..%c0%afsecret',
  '%252e%252e',
  '\uff0e\uff0e/secret',
  '\u2024\u2024/secret',
  '\u2025/secret',
  '...',
  '....',
  '.../x',
  'run1/..data',
  'run1/data..',
  '..hidden',
  'ｃ:x',
];

describe('StorageResolver security', () => {
  it(`refuses every one of ${hostile.length} hostile paths, with zero escapes`, async () => {
    expect(hostile.length).toBeGreaterThanOrEqual(100);
    const accepted: string[] = [];
    for (const p of hostile) {
      try {
        const r = await resolver.resolve('vast', 'amick', p);
        accepted.push(`${JSON.stringify(p)} resolved to ${r.kind === 'fs' ? r.path : r.key}`);
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).status).toBeGreaterThanOrEqual(400);
        expect((err as AppError).status).toBeLessThan(500);
      }
    }
    expect(accepted).toEqual([]);
  });

  it('refuses hostile user directories the same way', async () => {
    for (const user of ['..', '../secret', '/etc', 'amick/../..', 'a\\b', 'evil-user', 'x\0']) {
      await expect(resolver.resolve('vast', user, 'passwd')).rejects.toBeInstanceOf(AppError);
    }
  });

  it('keeps lookalike names literal and inside the base', async () => {
    for (const p of harmlessLookalikes) {
      const r = await resolver.resolve('vast', 'amick', p);
      expect(r.kind).toBe('fs');
      if (r.kind === 'fs') expect(isWithin(path.join(base, 'amick'), r.path)).toBe(true);
    }
    // A bidirectional override is not harmless: it disguises the name, so it is refused (issue 19.12).
    await expect(resolver.resolve('vast', 'amick', '\u202e..')).rejects.toThrow('U+202E');
  });

  it('gives the specific messages from the design', async () => {
    await expect(resolver.resolve('vast', 'amick', '../sam')).rejects.toThrow(
      'Path escapes base directory',
    );
    await expect(resolver.resolve('vast', 'amick', 'escape-dir/passwd')).rejects.toThrow(
      'Path escapes base directory',
    );
    await expect(resolver.resolve('gdrive', 'amick', 'x')).rejects.toThrow(
      "Backend 'gdrive' not configured",
    );
    await expect(resolver.resolve('vast', 'nobody', 'x')).rejects.toThrow(
      "User directory 'nobody' not found in backend 'vast'",
    );
  });

  it('follows symlinks that stay inside the base', async () => {
    const r = await resolver.resolvePath('vast', 'amick', 'latest/data.h5');
    expect(await readFile(r, 'utf8')).toBe('payload');
  });

  it('resolves paths that do not exist yet (outputs) when their parent is inside', async () => {
    const r = await resolver.resolvePath('vast', 'amick', 'run1/new/output.csv');
    expect(r).toBe(path.join(base, 'amick', 'run1', 'new', 'output.csv'));
  });

  it('maps absolute server paths back to their backend, refusing outside paths', async () => {
    const found = await resolver.locate(path.join(base, 'amick', 'run1', 'data.h5'));
    expect(found).toMatchObject({ backend: 'vast', relativePath: 'amick/run1/data.h5' });
    expect(await resolver.locate(path.join(outside, 'passwd'))).toBeUndefined();
    expect(await resolver.locate(path.join(base, 'amick', 'escape-file'))).toBeUndefined();
    expect(await resolver.locate('relative/path')).toBeUndefined();
  });
});

describe('the same logical reference on two machines', () => {
  it('resolves vast on a "Mac client" and a "container worker" to the same file', async () => {
    // The client mounts the share at /Volumes/vast-like path, the worker at /mnt/vast-like path.
    const mac = path.join(root, 'Volumes', 'vast');
    const container = path.join(root, 'mnt', 'vast');
    await mkdir(path.dirname(mac), { recursive: true });
    await mkdir(path.dirname(container), { recursive: true });
    await symlink(base, mac);
    await symlink(base, container);
    const toml = (mount: string) => {
      const file = path.join(root, `${path.basename(path.dirname(mount))}.toml`);
      return writeFile(file, `[storage.vast]\ntype = "nfs"\nbase_path = "${mount}"\n`).then(
        () => file,
      );
    };
    const clientConfig = parseConfig({ JWT_SECRET: 'x', SLUICE_CONFIG: await toml(mac) });
    const workerConfig = parseConfig({ JWT_SECRET: 'x', SLUICE_CONFIG: await toml(container) });
    const client = new StorageResolver(clientConfig.storage, { bucket: 'b' });
    const worker = new StorageResolver(workerConfig.storage, { bucket: 'b' });

    const onClient = await client.resolvePath('vast', 'amick', 'run1/data.h5');
    const onWorker = await worker.resolvePath('vast', 'amick', 'run1/data.h5');
    expect(onClient.startsWith(mac)).toBe(true);
    expect(onWorker.startsWith(container)).toBe(true);
    expect(onClient).not.toBe(onWorker);
    expect(await readFile(onWorker, 'utf8')).toBe(await readFile(onClient, 'utf8'));

    // What the worker writes, the client reads.
    await writeFile(await worker.resolvePath('vast', 'amick', 'run1/result.txt'), 'from worker');
    expect(
      await readFile(await client.resolvePath('vast', 'amick', 'run1/result.txt'), 'utf8'),
    ).toBe('from worker');
  });
});

describe('backend health', () => {
  it('reports exists/readable/writable with latency, and a missing base', async () => {
    const r = new StorageResolver(
      [
        { name: 'vast', type: 'nfs', basePath: base },
        { name: 'gone', type: 'local', basePath: path.join(root, 'unmounted') },
      ],
      { bucket: 'b' },
    );
    const [vast, gone] = await Promise.all([r.health('vast'), r.health('gone')]);
    expect(vast).toMatchObject({ exists: true, readable: true, writable: true });
    expect(vast.latencyMs).toBeGreaterThanOrEqual(0);
    expect(gone).toMatchObject({ exists: false, readable: false, writable: false });
    await expect(r.resolve('gone', undefined, 'x')).rejects.toMatchObject({ status: 503 });
  });
});
