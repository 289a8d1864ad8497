#!/usr/bin/env bash
# Proves the packaging path: `npm pack` (its prepack step runs
# `npm run prebuild:binary`) makes a release tarball with the prebuild
# prebuilds/linux-x64/*.node, the compiled dist/, the examples and the
# LICENSE; installing it into a fresh project uses the prebuild without
# compiling (no build/ appears, the install says so in one line and prints no
# stack trace); the installed package boots the real-mode test guest, and its
# CLI boots the demo guest with exit status 0; the install built the startup
# snapshot, and the installed node-kvm-qemu starts from it.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
work=$(mktemp -d)
# prebuildify (npm pack's prepack) rebuilds the addon and moves it out of build/Release into prebuilds/:
# the checkout's own build is put back afterwards, so what runs next (npm test in CI) uses it, not the prebuild
if [ -d build/Release ]; then cp -a build/Release "$work/Release"; fi
restore() {
  if [ -d "$work/Release" ]; then rm -rf build/Release && mv "$work/Release" build/Release; fi
  rm -rf "$work"
}
trap restore EXIT

echo "== pack (prepack builds the prebuild)"
npm pack --pack-destination "$work" >"$work/pack.log" 2>&1 || { tail -30 "$work/pack.log"; exit 1; }
tgz=$(cd "$work" && ls node-kvm-*.tgz)
listing=$(tar -tzf "$work/$tgz")  # not piped into grep -q: under pipefail, tar's SIGPIPE would fail the check
for want in 'package/prebuilds/linux-x64/[^/]*\.node' 'package/dist/index\.js' 'package/dist/cli\.js' \
            'package/examples/hello\.ts' 'package/examples/c-guest/guest\.c' 'package/guests/demo/demo\.bin' \
            'package/LICENSE' 'package/README\.md'; do
  grep -qx "$want" <<<"$listing" || { echo "the tarball lacks $want"; exit 1; }
done
if grep -qE '^package/(build|test|node_modules|\.startup)/' <<<"$listing"; then
  echo "the tarball ships build/, test/, node_modules/ or .startup/ (a blob is for one Node: installs build their own)"; exit 1
fi
echo "$tgz: $(wc -l <<<"$listing") files, $(du -k "$work/$tgz" | cut -f1) KiB"

echo "== install into a fresh project"
mkdir "$work/consumer"
cd "$work/consumer"
npm init -y >/dev/null 2>&1
npm install --no-audit --no-fund --foreground-scripts "$work/$tgz" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
if [ -e node_modules/node-kvm/build ]; then
  echo "the install compiled the addon instead of using the prebuild"; exit 1
fi
grep -q '^node-kvm: using the prebuilt binary prebuilds/linux-x64/' "$work/install.log" || { echo "the install did not say it used the prebuild:"; cat "$work/install.log"; exit 1; }
if grep -qE 'No native build was found|^\s+at ' "$work/install.log"; then
  echo "the install printed a stack trace:"; cat "$work/install.log"; exit 1
fi
cd "$here"
node scripts/smoke.js "$work/consumer/node_modules/node-kvm"

echo "== the installed CLI boots the demo guest"
"$work/consumer/node_modules/.bin/node-kvm" demo >"$work/demo.log" 2>&1 || { echo "node-kvm demo exited $?:"; tail -20 "$work/demo.log"; exit 1; }
grep -q 'exit code 43' "$work/demo.log" || { echo "the demo did not report its exit code:"; tail -20 "$work/demo.log"; exit 1; }
echo "demo: ok (exit status 0, the guest's code 43 printed)"

echo "== the install built the startup snapshot; the installed node-kvm-qemu starts from it"
grep -q '^node-kvm: built the startup snapshot \.startup/startup\.blob for Node ' "$work/install.log" || { echo "the install did not build the startup snapshot:"; cat "$work/install.log"; exit 1; }
trace=$(NODE_KVM_STARTUP_TRACE=1 "$work/consumer/node_modules/.bin/node-kvm-qemu" -version 2>&1 >/dev/null)
grep -q '^node-kvm startup: from the snapshot' <<<"$trace" || { echo "node-kvm-qemu did not start from the snapshot: $trace"; exit 1; }
echo "startup snapshot: ok ($trace)"
