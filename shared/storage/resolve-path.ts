import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ERRORS } from '../errors.ts';
import { splitRelative } from './relative-path.ts';

export { splitRelative };

/** True when `child` is `base` itself or lies below it (both absolute, normalised). */
export function isWithin(base: string, child: string): boolean {
  const rel = path.relative(base, child);
  // `..hidden` is a name inside the base; only `..` itself or `../...` leaves it.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Resolves `segments` below `base` and proves, after following every symlink that exists, that the
 * result is still inside `realBase`. Parts that do not exist yet (an output file) are checked by
 * resolving the deepest existing ancestor. Returns the path joined onto `displayBase` (the configured
 * mount point, which may itself be a symlink to `realBase`), so callers keep this machine's logical
 * location, not wherever a permitted symlink points.
 */
export async function confinedJoin(
  realBase: string,
  segments: string[],
  displayBase = realBase,
): Promise<string> {
  const joined = path.join(displayBase, ...segments);
  if (!isWithin(displayBase, joined)) throw ERRORS.pathEscapes();
  let probe = joined;
  let tail: string[] = [];
  for (;;) {
    try {
      const real = await realpath(probe);
      const final = path.join(real, ...tail);
      if (!isWithin(realBase, final)) throw ERRORS.pathEscapes();
      return joined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      // A dangling symlink is still a symlink: refuse it rather than guess where it would lead.
      const st = await lstat(probe).catch(() => undefined);
      if (st?.isSymbolicLink()) throw ERRORS.pathEscapes();
      if (probe === displayBase) throw err;
      tail = [path.basename(probe), ...tail];
      probe = path.dirname(probe);
      if (!isWithin(displayBase, probe)) throw ERRORS.pathEscapes();
    }
  }
}
