/**
 * Loads a package the deployment bundles leave out (the HDF5 and TIFF readers, the POST-policy signer):
 * they are big and only some requests need them, so they come from node_modules on first use.
 *
 * The bundles run as a script compiled with a V8 code cache (see infra/build/launcher.ts); a dynamic
 * `import()` inside such a script has no module loader behind it on Node 20, so the launcher lends its
 * own as `globalThis.__sluiceImport`. Everywhere else (tests, tsx, Workers) a plain `import()` is used.
 */
export function importExternal<T>(specifier: string): Promise<T> {
  const lent = (globalThis as { __sluiceImport?: (s: string) => Promise<unknown> }).__sluiceImport;
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}
