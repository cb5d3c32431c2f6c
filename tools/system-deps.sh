#!/usr/bin/env bash
# Make sure the program $1 exists (or, when $1 is a path, that file): install Debian/Ubuntu
# package $2 with apt-get, or Homebrew package $3 (if there is one) on macOS; otherwise stop and
# say what to install.
set -euo pipefail
program=$1 apt_package=$2 brew_package=${3:-}
present() {
  if [[ $program == */* ]]; then test -e "$program"; else command -v "$program" >/dev/null 2>&1; fi
}
present && exit 0
echo "mlfz needs '$program'; installing it"
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$apt_package" >/dev/null
elif [ -n "$brew_package" ] && command -v brew >/dev/null 2>&1; then
  brew install "$brew_package"
fi
present || {
  echo "Could not install '$program'. Please install it (Debian/Ubuntu: apt-get install $apt_package${brew_package:+; macOS: brew install $brew_package}) and run make again."
  exit 1
}
