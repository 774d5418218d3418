#!/usr/bin/env bash
# Let git and DVC's own git client (dulwich) push to and fetch from this repository on a GitHub
# runner: the token goes into origin's URL (dulwich ignores the HTTP header actions/checkout
# leaves), and commits get the Actions bot as author. Needs GH_TOKEN and GITHUB_REPOSITORY.
set -euo pipefail
: "${GH_TOKEN:?set GH_TOKEN to a token that may write to the repository}"
: "${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to owner/name}"
git remote set-url origin "https://x-access-token:${GH_TOKEN}@github.com/${GITHUB_REPOSITORY}.git"
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
