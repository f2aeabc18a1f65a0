#!/usr/bin/env bash
# Fails when a C++ file of the project is not clang-formatted (config: .clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is not installed"; exit 1; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"
    bad=1
  fi
done < <(find include src tools tests bench python -name '*.cc' -o -name '*.h' | sort)
exit $bad
