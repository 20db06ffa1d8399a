#!/usr/bin/env bash
# Installs what the tests and the local run need on a fresh Debian 12 machine:
#   - Fashion-MNIST (Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/*.gz)
#   - Azurite 3.37.0, the Azure Storage emulator, into .tools/ (the test fixture starts it itself)
#   - @cdktf/hcl2json and @cdktf/provider-azurerm (the HCL parser and the azurerm schema that the
#     infrastructure tests validate infra/terraform with), into .tools/
# Safe to run again: it skips what is already there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq dataset-fashion-mnist
fi

if [ ! -x "$root/.tools/node_modules/.bin/azurite" ]; then
  command -v npm >/dev/null || { echo "install-prerequisites: npm is needed to install Azurite (apt-get install npm)" >&2; exit 1; }
  npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error azurite@3.37.0
fi

if [ ! -f "$root/.tools/node_modules/@cdktf/hcl2json/package.json" ] || [ ! -f "$root/.tools/node_modules/@cdktf/provider-azurerm/.jsii" ]; then
  command -v npm >/dev/null || { echo "install-prerequisites: npm is needed to install @cdktf/hcl2json (apt-get install npm)" >&2; exit 1; }
  # --legacy-peer-deps: the tests read the provider's schema; they need neither cdktf nor constructs.
  npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error --legacy-peer-deps \
    @cdktf/hcl2json@0.21.0 @cdktf/provider-azurerm@14.23.1
fi
