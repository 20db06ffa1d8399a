#!/usr/bin/env bash
# Builds .gpu-azurite/: a self-contained Azurite (the Azure Storage emulator) for the GPU machine, which runs the
# benchmarks (shortcut bench-serving, bench-pipeline) but has no Node.js and no network, and on which everything
# carried must fit in 64 MiB (a .NET pack takes ~30 of it). The npm install in .tools/ is ~630 MB; this is ~22 MiB:
#   node.xz        this machine's node (v20), stripped of its debug symbols, xz-compressed (x86 filter)
#   azurite.js.xz  Azurite 3.37.0 and its dependencies bundled by esbuild into one minified file, xz-compressed
#   package.json   name and version only: `azurite --version` reads it beside the main script
#   azurite        the launcher (like npm's azurite bin): unpacks node and the bundle once into
#                  ${TMPDIR:-/tmp}/gpu-azurite-<uid>-<hash>/, then execs node there with all its arguments
# Use it there with AZURITE_PATH=<repo>/.gpu-azurite/azurite (see AzuriteEmulator.cs). The launcher needs sh and
# coreutils, and xz or python3 (for its lzma module) to unpack. esbuild is installed into a scratch folder
# ($SCRATCH, /tmp/azbundle by default), never into the repository. Needs .tools/ (tests/install-prerequisites.sh),
# node, npm and strip. Marked external (left out of the bundle): pg-hstore, which only sequelize's postgres dialect
# loads (when AZURITE_DB names a postgres database); the SQL drivers (mysql2, tedious, ...) are loaded by name at
# run time only when AZURITE_DB is set, so esbuild leaves them out by itself. Azurite therefore runs in memory or
# with --location here, not with AZURITE_DB.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$root/.gpu-azurite"
azurite="$root/.tools/node_modules/azurite"
scratch="${SCRATCH:-/tmp/azbundle}"
node_bin=$(readlink -f "$(command -v node)")
esbuild_version=0.28.2
limit=$((30 * 1024 * 1024))

[ -f "$azurite/dist/src/azurite.js" ] || { echo "pack-azurite: no Azurite in .tools/ (run tests/install-prerequisites.sh)" >&2; exit 1; }
mkdir -p "$scratch"
if [ ! -x "$scratch/node_modules/.bin/esbuild" ]; then
  npm install --prefix "$scratch" --no-audit --no-fund --loglevel=error "esbuild@$esbuild_version"
fi

rm -rf "$out" "$scratch/app"
mkdir -p "$out" "$scratch/app"

# The bundle (Azurite's npm bin is dist/src/azurite.js) and the package.json that `--version` looks for.
nice "$scratch/node_modules/.bin/esbuild" "$azurite/dist/src/azurite.js" --bundle --platform=node --target=node20 \
  --minify --external:pg-hstore --log-level=warning --outfile="$scratch/app/azurite.js"
node -e 'const p = require(process.argv[1]); console.log(JSON.stringify({ name: p.name, version: p.version, license: p.license }))' \
  "$azurite/package.json" > "$out/package.json"
nice xz -9e -T1 -c "$scratch/app/azurite.js" > "$out/azurite.js.xz"

# Node itself: debug symbols stripped (99 -> 86 MB), then xz with its x86 filter (~21 MB; about 50 s on one core).
strip --strip-all -o "$scratch/node" "$node_bin"
nice xz --x86 --lzma2=preset=9e -T1 -c "$scratch/node" > "$out/node.xz"

# The launcher. The hash in the unpack folder's name changes whenever node or the bundle does.
key=$(cat "$out/node.xz" "$out/azurite.js.xz" | sha256sum | cut -c1-16)
cat > "$out/azurite" <<EOF
#!/bin/sh
# Runs the Azurite bundled by tests/gpu/pack-azurite.sh with the node packed beside it (no node on PATH needed):
# on first use unpacks both into a temp folder, then execs node (so that signals reach Azurite itself).
set -e
here=\$(dirname "\$(readlink -f "\$0")")
dir="\${TMPDIR:-/tmp}/gpu-azurite-\$(id -u)-$key"
unxz() { if command -v xz >/dev/null 2>&1; then xz -dc "\$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "\$1"; fi; }
if [ ! -x "\$dir/node" ] || [ ! -f "\$dir/azurite.js" ]; then
  tmp="\$dir.\$\$"
  rm -rf "\$tmp" && mkdir -p "\$tmp"
  unxz "\$here/azurite.js.xz" > "\$tmp/azurite.js"
  cp "\$here/package.json" "\$tmp/"
  unxz "\$here/node.xz" > "\$tmp/node"
  chmod +x "\$tmp/node"
  # Another launcher may have unpacked it meanwhile: then keep that one.
  mv -T "\$tmp" "\$dir" 2>/dev/null || rm -rf "\$tmp"
fi
exec "\$dir/node" "\$dir/azurite.js" "\$@"
EOF
chmod +x "$out/azurite"

# Smoke test: the launcher from another folder, with a PATH that holds only the tools it uses (no node).
tools=$(mktemp -d)
for t in sh readlink dirname id rm mkdir cp chmod mv xz; do ln -s "$(command -v "$t")" "$tools/"; done
version=$(cd / && PATH="$tools" "$out/azurite" --version)
rm -rf "$tools"
[ "$version" = "$(node -p 'require(process.argv[1]).version' "$azurite/package.json")" ] ||
  { echo "pack-azurite: the launcher printed '$version'" >&2; exit 1; }

exclude="$root/.git/info/exclude"
mkdir -p "$(dirname "$exclude")"
grep -qxF '.gpu-azurite/' "$exclude" 2>/dev/null || echo '.gpu-azurite/' >> "$exclude"

(cd "$out" && ls -l)
total=$(du -cb "$out"/* | tail -1 | cut -f1)
echo "pack-azurite: $out holds $total bytes ($(awk "BEGIN { printf \"%.1f\", $total / 1048576 }") MiB; limit 30 MiB): Azurite $version, node $(node --version)"
[ "$total" -le "$limit" ] || { echo "pack-azurite: over the 30 MiB limit" >&2; exit 1; }
