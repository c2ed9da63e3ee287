import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, endpointUrl, parseConfig } from '../../shared/config/load.ts';
import { parsePresignSettings } from '../../shared/config/settings.ts';

const base = { JWT_SECRET: 'x' };

describe('config', () => {
  it('has working defaults for a local machine', () => {
    const c = parseConfig(base);
    expect(c.port).toBe(8080);
    expect(c.s3.bucket).toBe('sluice');
    expect(c.auth.bucketTokenTtlMin).toBe(60);
    expect(c.auth.bucketTokenSecret).toBe('x');
    expect(c.viewer.autoloadMaxBytes).toBe(500_000_000);
    expect(c.events.suffixes).toEqual(['.h5', '.hdf5']);
    expect(c.storage.map((b) => b.name)).toEqual(['data']);
  });

  it('names every bad variable in one error', () => {
    expect(() =>
      parseConfig({ ...base, PORT: 'eighty', MINIO_SECURE: 'maybe', MINIO_BUCKET: 'x' }),
    ).toThrow(/PORT.*MINIO_SECURE.*MINIO_BUCKET|PORT.*MINIO_BUCKET.*MINIO_SECURE/);
    expect(() => parseConfig({})).toThrow(/JWT_SECRET/);
  });

  it('never puts secret values in its errors', () => {
    try {
      parseConfig({
        JWT_SECRET: 'super-secret-value',
        MINIO_SECRET_KEY: 'also-secret',
        PORT: '-1',
      });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('super-secret-value');
      expect((err as Error).message).not.toContain('also-secret');
    }
  });

  it('accepts the deployed misspelling AIMINO_AUTLOAD_MAX_BYTES and the correct one', () => {
    expect(parseConfig({ ...base, AIMINO_AUTLOAD_MAX_BYTES: '123' }).viewer.autoloadMaxBytes).toBe(
      123,
    );
    expect(parseConfig({ ...base, AIMINO_AUTOLOAD_MAX_BYTES: '456' }).viewer.autoloadMaxBytes).toBe(
      456,
    );
    expect(parseConfig({ ...base, AIMINO_AUTLOAD_MAX_BYTES: '0' }).viewer.autoloadMaxBytes).toBe(0);
  });

  it('builds a database URL from POSTGRES_* parts, and DATABASE_URL wins', () => {
    const parts = {
      ...base,
      POSTGRES_HOST: 'db',
      POSTGRES_USER: 'u',
      POSTGRES_PASSWORD: 'p@ss',
      POSTGRES_DB: 'lab',
    };
    expect(parseConfig(parts).database.url).toBe('postgres://u:p%40ss@db:5432/lab');
    expect(parseConfig({ ...parts, DATABASE_URL: 'postgres://x/y' }).database.url).toBe(
      'postgres://x/y',
    );
  });

  it('normalises MinIO endpoints given as host:port or URLs', () => {
    expect(endpointUrl('minio:9000', false)).toBe('http://minio:9000');
    expect(endpointUrl('minio:9000', true)).toBe('https://minio:9000');
    expect(endpointUrl('https://s3.lab.org/', false)).toBe('https://s3.lab.org');
    const c = parseConfig({
      ...base,
      MINIO_ENDPOINT: 'minio:9000',
      MINIO_PUBLIC_ENDPOINT: 's3.lab.org',
      MINIO_SECURE: 'true',
    });
    expect(c.s3.endpoint).toBe('https://minio:9000');
    expect(c.s3.publicEndpoint).toBe('https://s3.lab.org');
    expect(c.s3.adminEndpoint).toBe('https://minio:9000');
  });

  it('reads [storage.*] backends from TOML and requires base_path for filesystems', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-cfg-'));
    const good = path.join(dir, 'good.toml');
    await writeFile(
      good,
      '[storage.vast]\ntype = "nfs"\nbase_path = "/mnt/vast"\ndescription = "VAST"\n\n[storage.archive]\ntype = "s3"\nbucket = "lab-archive"\nprefix = "raw/"\n',
    );
    const c = parseConfig({ ...base, SLUICE_CONFIG: good, SHARED_STORAGE_ROOT: '/ignored' });
    expect(c.storage.map((b) => b.name)).toEqual(['vast', 'archive', 'data']);
    expect(c.storage[0]).toMatchObject({ type: 'nfs', basePath: '/mnt/vast', description: 'VAST' });

    const bad = path.join(dir, 'bad.toml');
    await writeFile(bad, '[storage.scratch]\ntype = "local"\n');
    expect(() => parseConfig({ ...base, SLUICE_CONFIG: bad })).toThrow(
      /storage\.scratch.*base_path/,
    );

    const broken = path.join(dir, 'broken.toml');
    await writeFile(broken, '[storage.x\ntype=');
    expect(() => parseConfig({ ...base, SLUICE_CONFIG: broken })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, SLUICE_CONFIG: path.join(dir, 'none.toml') })).toThrow(
      /cannot read/,
    );
  });

  it('turns the legacy SHARED_STORAGE_ROOT into backend "default"', () => {
    const c = parseConfig({ ...base, SHARED_STORAGE_ROOT: '/vast/sam' });
    expect(c.storage[0]).toMatchObject({ name: 'default', type: 'local', basePath: '/vast/sam' });
  });

  it('reads NAME_FILE secrets (OpenFaaS, Docker) and lets an explicit NAME win', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-cfg-'));
    const file = path.join(dir, 'jwt');
    await writeFile(file, 'from-a-file\n');
    expect(parseConfig({ JWT_SECRET_FILE: file }).auth.jwtSecret).toBe('from-a-file');
    expect(parseConfig({ JWT_SECRET_FILE: file, JWT_SECRET: 'explicit' }).auth.jwtSecret).toBe(
      'explicit',
    );
    expect(() =>
      parseConfig({ JWT_SECRET: 'x', MINIO_SECRET_KEY_FILE: path.join(dir, 'missing') }),
    ).toThrow(/MINIO_SECRET_KEY_FILE: cannot read/);
  });
});

describe('the presign settings both runtimes use', () => {
  it('are the Node Config sections, parsed by the same schema, for every endpoint form', () => {
    for (const extra of [
      { MINIO_PUBLIC_ENDPOINT: 'https://s3.lab.example.org/minio/' },
      { MINIO_PUBLIC_ENDPOINT: 's3.lab.example.org:9000' },
      { MINIO_PUBLIC_ENDPOINT: 's3.lab.example.org:9000', MINIO_SECURE: 'yes' },
      { SLUICE_JWT_ISSUER: 'https://idp', SLUICE_JWT_AUDIENCE: 'sluice', BUCKET_TOKEN_SECRET: 'b' },
    ]) {
      const env = { JWT_SECRET: 's', ...extra };
      const full = parseConfig(env);
      expect(parsePresignSettings(env)).toEqual({
        auth: full.auth,
        s3: full.s3,
        presign: full.presign,
      });
    }
    expect(parsePresignSettings({ JWT_SECRET: 's' }).auth.maxTokenTtlS).toBe(86_400);
    expect(() => parsePresignSettings({ JWT_SECRET: 's', SLUICE_JWT_MAX_TTL_S: '0' })).toThrow(
      /SLUICE_JWT_MAX_TTL_S/,
    );
    expect(() => parsePresignSettings({})).toThrow(/JWT_SECRET: required/);
  });
});
