/**
 * Packages the function bundles do not contain: they are loaded from node_modules at run time, on first
 * use only (the HDF5 and TIFF readers with their wasm, and the POST-policy signer). The build marks them
 * external and the image installs exactly these (infra/docker/Dockerfile, runtime-deps stage); a deploy
 * test checks the two lists agree.
 */
export const RUNTIME_PACKAGES = [
  'h5wasm',
  'h5wasm-plugins',
  'geotiff',
  '@aws-sdk/s3-presigned-post',
] as const;
