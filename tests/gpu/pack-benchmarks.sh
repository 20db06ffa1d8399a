#!/usr/bin/env bash
# Prepares the GPU benchmark run of issue 9 on this (development) machine: everything the GPU machine needs that it
# does not have, in the two folders the device tool carries (together under its 64 MiB):
#   .gpu/           the command line (shortcut.dll) published by ../shared/gpu/pack.sh with the .NET runtime; its app
#                   folder is xz-compressed into app.tar.xz here (22 MB -> about 8), tests/gpu/run-benchmarks.sh unpacks it
#   .gpu-azurite/   Node.js and a one-file Azurite (tests/gpu/pack-azurite.sh): the benchmarks run the pipeline on it
# Then, with the device tool:
#   run(command="bash tests/gpu/run-benchmarks.sh", carry=[".gpu", ".gpu-azurite"], timeout_s=...)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
[ -f ../shared/gpu/pack.sh ] || { echo "pack-benchmarks: no ../shared/gpu/pack.sh beside the project (the GPU machine's packer)" >&2; exit 1; }
bash ../shared/gpu/pack.sh src/ShortcutPipeline.Cli/ShortcutPipeline.Cli.csproj
tar -C .gpu -cf - app | xz -9 -T2 > .gpu/app.tar.xz
rm -rf .gpu/app
bash tests/gpu/pack-azurite.sh
total=$(du -cb .gpu .gpu-azurite | tail -1 | cut -f1)
echo "pack-benchmarks: .gpu and .gpu-azurite hold $((total / 1048576)) MiB (the device tool carries 64 MiB at most)"
[ "$total" -lt $((62 * 1048576)) ] || { echo "pack-benchmarks: too large to carry" >&2; exit 1; }
