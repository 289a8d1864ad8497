#!/usr/bin/env bash
# Proves both build systems produce a working addon: cmake-js (CMakeLists.txt)
# and node-gyp (binding.gyp) each rebuild build/Release/node_kvm.node from
# native/, and each result boots the real-mode test guest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d dist ] || npx tsc -p tsconfig.build.json

echo "== cmake-js rebuild"
npx cmake-js rebuild >/tmp/node-kvm-cmake.log 2>&1 || { tail -30 /tmp/node-kvm-cmake.log; exit 1; }
node scripts/smoke.js

echo "== node-gyp rebuild"
# nodedir: the local Node headers (nothing is downloaded); npm exports it from ~/.npmrc, pass it explicitly too.
npx node-gyp rebuild --nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}" >/tmp/node-kvm-gyp.log 2>&1 || { tail -30 /tmp/node-kvm-gyp.log; exit 1; }
node scripts/smoke.js

echo "== back to the cmake-js build"
npx cmake-js rebuild >/tmp/node-kvm-cmake.log 2>&1 || { tail -30 /tmp/node-kvm-cmake.log; exit 1; }
node scripts/smoke.js
