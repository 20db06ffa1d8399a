#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every test project.
# The tests start their own Azurite (from .tools/) on free ports; no GPU is needed.
# Test projects run one after another: several of them train small models, and on two cores they would
# otherwise slow each other down (the core-claim test in ShortcutPipeline.Model.Tests takes about 3 minutes alone).
# Extra arguments go to every `dotnet test` (for example --filter ...).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tests/install-prerequisites.sh"
dotnet build "$root/ShortcutPipeline.sln" -c Release

failed=()
for project in "$root"/tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  echo "=== $name"
  start=$SECONDS
  if ! dotnet test "$project" -c Release --no-build --logger "console;verbosity=normal" "$@"; then
    failed+=("$name")
  fi
  echo "=== $name: $((SECONDS - start)) s"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "All test projects passed."
