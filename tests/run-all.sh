#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every test project.
# The tests start their own Azurite (from .tools/) on free ports; no GPU is needed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tests/install-prerequisites.sh"
dotnet build "$root/ShortcutPipeline.sln" -c Release
dotnet test "$root/ShortcutPipeline.sln" -c Release --no-build --logger "console;verbosity=normal" "$@"
