#!/usr/bin/env bash
# Rebuild the committed pipeline from nothing in a fresh clone and fail unless every output
# hash in dvc.lock comes back identical. Run it before committing a new dvc.lock.
set -euo pipefail
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/clone"
cd "$work/clone"
ln -s "$repo/.venv" .venv   # reuse the installed environment
make --no-print-directory repro >/dev/null
if git diff --quiet -- dvc.lock; then
    echo "dvc.lock reproduced byte for byte from a fresh clone"
else
    git --no-pager diff --stat -- dvc.lock reports
    echo "dvc.lock differs after a rebuild from a fresh clone" >&2
    exit 1
fi
