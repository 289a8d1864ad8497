#!/bin/sh
# Rebuilds demo.bin from demo.S with the GNU assembler (binutils).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
as --64 -o "$tmp/demo.o" demo.S
objcopy -O binary -j .text "$tmp/demo.o" demo.bin
echo "demo.bin: $(wc -c < demo.bin) bytes"
