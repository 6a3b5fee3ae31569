#!/usr/bin/env bash
# Code of each interface module in a release libavs.so (default: armv7 Thumb-2), from its
# symbol table: every defined function and object whose demangled name lies in
# avs::interfaces::<module>, avs::ffi::interfaces::<module> or avs_core::interfaces::<module>,
# summed per module (the C registration functions of src/ffi/interfaces/device.rs — device
# info, storage, wall clock, locale — as "device"; the router and coordination in
# src/interfaces/mod.rs as "(router)"; avs-core's shared payload readers as "(payload readers)"). With LTO, code inlined into a caller counts where it was inlined (the router
# in interfaces/mod.rs, the engine), so a module's own figure is a lower bound of what enabling it
# costs; the "whole layer" line is the sum of everything under those paths.
#
#   scripts/footprint_interfaces.sh [TARGET]      e.g. x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-armv7-unknown-linux-gnueabihf}
host=$(rustc -vV | sed -n 's/^host: //p')
if [ "$target" = "$host" ]; then
    cargo build --release --lib --quiet
    so=target/release/libavs.so
    nm=nm
else
    scripts/cross.sh "$target" build --release --lib >/dev/null 2>&1
    so=target/$target/release/libavs.so
    case $target in
        armv7-*) nm=arm-linux-gnueabihf-nm ;;
        aarch64-*) nm=aarch64-linux-gnu-nm ;;
        *) nm=nm ;;
    esac
fi
echo "code of the interfaces layer in $so ($target, release, LTO), from its symbol table:"
"$nm" --print-size --defined-only -C "$so" | python3 -c '
import collections, re, sys
sizes = collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4 or parts[2] not in "tTrRdDbB":
        continue
    size, name = int(parts[1], 16), parts[3]
    m = re.search(r"\b(avs_core|avs::ffi|avs)::interfaces::([A-Za-z_0-9]+)(::)?", name)
    if not m:
        continue
    part = m.group(2)
    if part[0].isupper():
        part = "(router)" if m.group(1) == "avs" else "(payload readers)"
    elif not m.group(3):
        part = "(payload readers)"
    sizes[part] += size
    sizes["(whole layer)"] += size
for module, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
    print(f"  {module:<22} {size:>7} B")
'
