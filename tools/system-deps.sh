#!/usr/bin/env bash
# Make sure the program $1 exists: install Debian/Ubuntu package $2 with apt-get, or Homebrew
# package $3 on macOS; otherwise stop and say what to install.
set -euo pipefail
program=$1 apt_package=$2 brew_package=$3
command -v "$program" >/dev/null 2>&1 && exit 0
echo "mlfz needs '$program'; installing it"
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$apt_package" >/dev/null
elif command -v brew >/dev/null 2>&1; then
  brew install "$brew_package"
fi
command -v "$program" >/dev/null 2>&1 || {
  echo "Could not install '$program'. Please install it (Debian/Ubuntu: apt-get install $apt_package; macOS: brew install $brew_package) and run make again."
  exit 1
}
