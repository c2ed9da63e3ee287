// h5wasm-plugins ships no typings; only the local installer is used.
declare module 'h5wasm-plugins' {
  export function install_local_plugins(module: unknown): void;
}
