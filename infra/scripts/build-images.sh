#!/usr/bin/env bash
# Builds the GPU image (the `shortcut` command line: the worker app runs `shortcut worker`, the trainer job
# `shortcut trainer --once`) and puts it in an Azure container registry, from the committed files
# only (git archive of HEAD), so local build outputs never enter the build context.
#
# Usage: infra/scripts/build-images.sh [--local] <registry name> [tag]   (default tag: latest)
#   default  az acr build: builds in Azure, no Docker needed here. Free and trial subscriptions refuse ACR Tasks.
#   --local  docker build here (for linux/amd64, also on an Arm machine), az acr login, docker push. Needs Docker
#            (or set DOCKER=podman) and push rights on the registry (Owner or Contributor of its resource group).
set -euo pipefail
mode=registry
if [[ ${1:-} == --local ]]; then
  mode=local
  shift
fi
registry=${1:?usage: build-images.sh [--local] <registry name> [tag]}
tag=${2:-latest}
docker=${DOCKER:-docker}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
git -C "$root" archive HEAD | tar -x -C "$context"

if [[ $mode == local ]]; then
  login_server=$(az acr show --name "$registry" --query loginServer --output tsv)
  az acr login --name "$registry"
fi

image="shortcut:$tag"
if [[ $mode == local ]]; then
  "$docker" build --platform linux/amd64 --file "$context/infra/docker/gpu-app.Dockerfile" --tag "$login_server/$image" "$context"
  "$docker" push "$login_server/$image"
else
  az acr build --registry "$registry" --image "$image" --file infra/docker/gpu-app.Dockerfile --timeout 7200 "$context"
fi
