#!/usr/bin/env bash
# Publishes the Functions app and packs it as the zip that Flex Consumption deploys.
# Usage: infra/scripts/publish-functions.sh [zip path]   (default: artifacts/functions.zip)
# Deploy it with: az functionapp deployment source config-zip -g <group> -n <function app> --src <zip>
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
project="$root/functions/ShortcutPipeline.Functions.csproj"
zip_path=$(realpath -m "${1:-$root/artifacts/functions.zip}")

publish_dir=$(mktemp -d)
trap 'rm -rf "$publish_dir"' EXIT
dotnet publish "$project" -c Release -o "$publish_dir"

mkdir -p "$(dirname "$zip_path")"
rm -f "$zip_path"
# shutil keeps the hidden .azurefunctions folder that the isolated worker needs.
python3 -c 'import shutil, sys; shutil.make_archive(sys.argv[1][:-4], "zip", sys.argv[2])' "$zip_path" "$publish_dir"
echo "$zip_path"
