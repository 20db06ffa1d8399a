#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after tests/gpu/pack-benchmarks.sh made .gpu and .gpu-azurite:
#   run(command="bash tests/gpu/run-benchmarks.sh", carry=[".gpu", ".gpu-azurite"], timeout_s=540)
# bench-serving and bench-pipeline with an untrained DiT-B/2 (latent 4x32x32, 256-pixel images through a VAE decoder
# of the Stable Diffusion shape) on CUDA, through the packed Azurite. Figures (JSON), tables and logs go to $OUT.
# Overrides (the CLI test GpuBenchmarkScriptTests runs it on the CPU with them): SHORTCUT (the command line; default
# .gpu's shortcut.dll on the device's torch), AZURITE_PATH, DEVICE (cuda), PRESET (DiT-B/2), SERVING_ARGS (default
# --duration 15) and PIPELINE_ARGS (default --batches 32): each benchmark's options, sized to leave device time for a rerun.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=${OUT:-$root/out/gpu-benchmarks}
mkdir -p "$out"
if [ -z "${SHORTCUT:-}" ]; then
  if [ ! -d .gpu/app ]; then
    if command -v xz >/dev/null; then tar -C .gpu -xJf .gpu/app.tar.xz
    else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' .gpu/app.tar.xz .gpu; fi
  fi
  SHORTCUT="bash .gpu/run.sh shortcut.dll"
fi
export AZURITE_PATH=${AZURITE_PATH:-$root/.gpu-azurite/azurite}
device=${DEVICE:-cuda}
preset=${PRESET:-DiT-B/2}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"; nproc; } > "$out/machine.txt"
failed=0
bench() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name: $*"
  if $SHORTCUT "$@" --device "$device" --preset "$preset" --out "$out/$name.json" > "$out/$name.txt" 2> "$out/$name.log"; then
    cat "$out/$name.txt"
  else
    failed=1
    echo "$name failed; the end of its log:"
    tail -n 30 "$out/$name.log"
  fi
  echo "=== $name: $((SECONDS - start)) s"
}
# shellcheck disable=SC2086 # the extra options are words
bench serving bench-serving ${SERVING_ARGS:---duration 15}
# shellcheck disable=SC2086
bench pipeline bench-pipeline ${PIPELINE_ARGS:---batches 32}
cat "$out/machine.txt"
exit $failed
