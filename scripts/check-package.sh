#!/usr/bin/env bash
# Proves the packaging path: `npm run prebuild:binary` writes
# prebuilds/linux-x64/*.node, `npm pack` ships it, and installing the tarball
# into a fresh project uses the prebuild without compiling (no build/ appears),
# then boots the real-mode test guest from the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== prebuild:binary"
npm run prebuild:binary >"$work/prebuild.log" 2>&1 || { tail -30 "$work/prebuild.log"; exit 1; }
ls prebuilds/linux-x64/*.node

echo "== pack"
tgz=$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -1)
listing=$(tar -tzf "$work/$tgz")  # not piped into grep -q: under pipefail, tar's SIGPIPE would fail the check
grep -q 'package/prebuilds/linux-x64/.*\.node' <<<"$listing" || { echo "tarball has no prebuild"; exit 1; }

echo "== install into a fresh project"
mkdir "$work/consumer"
cd "$work/consumer"
npm init -y >/dev/null 2>&1
npm install --no-audit --no-fund "$work/$tgz" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
if [ -e node_modules/node-kvm/build ]; then
  echo "the install compiled the addon instead of using the prebuild"; exit 1
fi
cd "$here"
node scripts/smoke.js "$work/consumer/node_modules/node-kvm"
