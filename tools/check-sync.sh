#!/usr/bin/env bash
# Fail if nbdev_export, nbdev_clean, nbdev_sidebar or the README generator would change anything under nbs/,
# mlfz/ or README.md: the notebooks, the package and the README must be in step, notebooks clean.
set -euo pipefail
bin=$1
snapshot() { git status --porcelain -uall -- nbs mlfz README.md; git diff -- nbs mlfz README.md; git ls-files -o --exclude-standard -- nbs mlfz | xargs -r cat; }
before=$(snapshot | sha1sum)
"$bin/nbdev_export"
"$bin/nbdev_clean"
"$bin/nbdev_sidebar" --force
"$bin/python" tools/readme.py
if [ "$(snapshot | sha1sum)" != "$before" ]; then
  echo "check-sync: nbdev_export / nbdev_clean / nbdev_sidebar / tools/readme.py changed files (now left changed):"
  git status --short -- nbs mlfz README.md
  exit 1
fi
echo "check-sync: notebooks, package and README are in step"
