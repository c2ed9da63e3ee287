import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log/logger.ts';

describe('logger', () => {
  it('writes JSON to LOG_FILE_PATH with secrets redacted and the level honoured', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'sluice-log-')), 'sluice.log');
    const log = createLogger({ level: 'info', file, name: 'sluice' });
    log.child({ fn: 'presign', reqId: 'r-1' }).info(
      {
        password: 'hunter2',
        config: { secretKey: 'sk', jwtSecret: 'js', databaseUrl: 'postgres://u:p@h/db' },
        headers: { authorization: 'Bearer abc' },
        key: 'uploads/a.h5',
      },
      'something happened',
    );
    log.debug('not at info level');
    log.flush();
    await new Promise((r) => setTimeout(r, 200));
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      fn: 'presign',
      reqId: 'r-1',
      msg: 'something happened',
      key: 'uploads/a.h5',
      password: '[redacted]',
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ['hunter2', '"sk"', '"js"', 'u:p@h', 'Bearer abc'])
      expect(text).not.toContain(secret);
  });
});
