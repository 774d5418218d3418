#!/usr/bin/env bash
# One experiment of a search shared between machines (docs/experiments.md, "Experiments on many machines"):
#   scripts/exp_worker.sh NAME OVERRIDE...
# runs `dvc exp run --pull --name NAME -S OVERRIDE...` (stages that need not run get their outputs
# from the DVC remote instead of recomputing them) and shares the result with
# `dvc exp push GIT_REMOTE NAME`: the experiment's git ref and, in the DVC remote, its outputs.
# GIT_REMOTE defaults to origin. The DVC remote's endpoint and keys come from .dvc/config.local
# or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_S3).
set -euo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: $0 NAME OVERRIDE... (e.g. $0 c-1 'train.tfidf_linear.c=1')" >&2
  exit 2
fi
name=$1
shift
sets=()
for override in "$@"; do
  sets+=(-S "$override")
done
dvc exp run --pull --name "$name" "${sets[@]}"
dvc exp push "${GIT_REMOTE:-origin}" "$name"
