#!/usr/bin/env bash
# Builds the worker and trainer images in an Azure container registry (az acr build: no local Docker needed),
# from the committed files only (git archive), so local build outputs never enter the build context.
# Usage: infra/scripts/build-images.sh <registry name> [tag]   (default tag: latest)
set -euo pipefail
registry=${1:?usage: build-images.sh <registry name> [tag]}
tag=${2:-latest}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
git -C "$root" archive HEAD | tar -x -C "$context"

for app in Worker Trainer; do
  image="shortcut-${app,,}:$tag"
  az acr build --registry "$registry" --image "$image" --file infra/docker/gpu-app.Dockerfile \
    --build-arg "APP=$app" --timeout 7200 "$context"
done
