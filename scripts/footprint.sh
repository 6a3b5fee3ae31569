#!/usr/bin/env bash
# Footprint of the avs library, measured (never estimated):
#
#   scripts/footprint.sh
#
#  1. code size: the stripped libavs.so (release profile: opt-level s, fat LTO, codegen-units 1,
#     built as `--crate-type cdylib` alone, as c-examples/Makefile does: with the rlib in the same
#     build cargo skips LTO) for x86_64, armv7 Thumb-2 (thumbv7neon-unknown-linux-gnueabihf),
#     armv7 ARM mode (armv7-unknown-linux-gnueabihf, for comparison) and aarch64, each without
#     and with `--features alsa`: text/data/bss from the target's `size` after the target's `strip`;
#  2. what each part contributes to the Thumb-2 .so: a linker map (-Wl,-Map) summed by input
#     section; Rust crates (merged into one object by LTO) by their function sections' symbol names
#     (scripts/footprint_parts.py);
#  3. RAM: `cargo bench --bench connection`, default config and small budget (AVS_BENCH_SMALL=1):
#     the region a client reserves at creation (buffers + nghttp2 pool + mbedTLS pool), the fixed
#     structures it keeps on the heap besides, and how much of the region is in use; valgrind
#     massif on a whole voice turn of c-examples' avs_assistant (release) against the local AVS
#     server; and the library's static RAM (data + bss of the stripped .so);
#  4. steady-state heap calls: `cargo test --test no_alloc -- --nocapture`;
#  5. what-if variants (FP_VARIANTS=0 skips them): the Thumb-2 .so rebuilt with one change each
#     (opt-level z; C at -O2; mbedTLS defines through CFLAGS; a client-only mbedTLS config;
#     std rebuilt without backtrace symbolization; all together), and massif on avs_assistant
#     linked with the client-only mbedTLS config + AES ROM tables, and smaller capacities;
#  and a summary against the targets (heap+static peak <= 96 KB, steady <= 64 KB, Thumb-2 code
#  <= 350 KB, no heap calls in steady state).
#
# Environment: CARGO_TARGET_DIR (default /tmp/fp-target; each build configuration gets its own
# subdirectory so that re-runs are incremental and nothing fights over the repo's target/ lock),
# FP_VARIANTS=0 (skip step 5), FP_RETRIES (default 3: a failing build or run is retried after
# FP_RETRY_SLEEP seconds, default 60, since the sources may be mid-edit), FP_NICE (default 10).
# Outputs (maps, stripped libraries, logs, massif files): $CARGO_TARGET_DIR/footprint/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/fp-target}
TD=$CARGO_TARGET_DIR
FP=$TD/footprint
mkdir -p "$FP"/{maps,libs,logs}
NICE=(nice -n "${FP_NICE:-10}")
RETRIES=${FP_RETRIES:-3}
RETRY_SLEEP=${FP_RETRY_SLEEP:-60}
PARTS=(python3 "$ROOT/scripts/footprint_parts.py")
START=$SECONDS
# Under `cargo test`/`make` the environment may carry a crate's CARGO_PKG_* etc.; a nested cargo
# would see a changed build-script environment and rebuild. Keep them out.
for v in $(env | sed -n 's/^\(CARGO_PKG_[A-Z_]*\|CARGO_MANIFEST_[A-Z_]*\|CARGO_CRATE_NAME\|CARGO_PRIMARY_PACKAGE\)=.*/\1/p'); do
    unset "$v"
done

TARGETS=(x86_64-unknown-linux-gnu thumbv7neon-unknown-linux-gnueabihf armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu)
THUMB=thumbv7neon-unknown-linux-gnueabihf

hdr() { printf '\n==== %s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
kb() { python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1024:.1f}")' "$1"; }

triple_of() {
    case "$1" in
        x86_64-unknown-linux-gnu) echo x86_64-linux-gnu ;;
        thumbv7neon-unknown-linux-gnueabihf | armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
        aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
        *) echo "footprint: unknown target $1" >&2; return 1 ;;
    esac
}
# binutils for a target: the native ones for x86_64, <triple>-<tool> otherwise
tool() { # target tool
    if [ "$1" = x86_64-unknown-linux-gnu ]; then echo "$2"; else echo "$(triple_of "$1")-$2"; fi
}
mode_of() {
    case "$1" in
        thumbv7neon-*) echo "armv7 Thumb-2" ;;
        armv7-*) echo "armv7 ARM mode" ;;
        aarch64-*) echo "aarch64" ;;
        x86_64-*) echo "x86_64" ;;
    esac
}

# Runs "$@" with output to LOG, retrying (the sources are edited concurrently). Returns its status.
run_logged() { # log cmd...
    local log=$1 i rc=0
    shift
    for ((i = 1; i <= RETRIES; i++)); do
        rc=0
        "$@" >"$log" 2>&1 || rc=$?
        [ $rc -eq 0 ] && return 0
        if [ $i -lt "$RETRIES" ]; then
            echo "  (attempt $i failed with status $rc, see $log; retrying in ${RETRY_SLEEP}s)" >&2
            sleep "$RETRY_SLEEP"
        fi
    done
    return $rc
}

# ---------------------------------------------------------------------------- prerequisites
hdr "footprint of avs ($(date -u '+%Y-%m-%d %H:%M UTC'), $(rustc -V), host $(uname -m), CARGO_TARGET_DIR=$TD)"
need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "footprint: '$1' not found (run scripts/deps.sh)" >&2; exit 1; }; }
for c in cargo rustup python3 size strip readelf c++filt valgrind ms_print pkg-config \
    arm-linux-gnueabihf-gcc arm-linux-gnueabihf-size arm-linux-gnueabihf-strip arm-linux-gnueabihf-objdump \
    aarch64-linux-gnu-gcc aarch64-linux-gnu-size aarch64-linux-gnu-strip; do
    need_cmd "$c"
done
installed=$(rustup target list --installed)
for t in "${TARGETS[@]}"; do
    if ! grep -qx "$t" <<<"$installed"; then
        note "rustup target add $t"
        rustup target add "$t" >/dev/null
    fi
done

# Cross environment for a target that scripts/cross.sh does not know (thumbv7neon): the same
# variables cross.sh exports, filled in only when unset.
cross_env_manual() { # target
    local t=$1 tri tu TU
    tri=$(triple_of "$t")
    tu=${t//-/_}
    TU=${tu^^}
    [ -n "$(env | sed -n "s/^CC_${tu}=//p")" ] || export "CC_${tu}=${tri}-gcc"
    [ -n "$(env | sed -n "s/^AR_${tu}=//p")" ] || export "AR_${tu}=${tri}-ar"
    [ -n "$(env | sed -n "s/^CARGO_TARGET_${TU}_LINKER=//p")" ] || export "CARGO_TARGET_${TU}_LINKER=${tri}-gcc"
    [ -n "$(env | sed -n "s/^PKG_CONFIG_ALLOW_CROSS_${tu}=//p")" ] || export "PKG_CONFIG_ALLOW_CROSS_${tu}=1"
    [ -n "$(env | sed -n "s/^PKG_CONFIG_LIBDIR_${tu}=//p")" ] || export "PKG_CONFIG_LIBDIR_${tu}=/usr/lib/${tri}/pkgconfig"
}
cross_sh_knows() { grep -qE "^[[:space:]]*$1\)" "$ROOT/scripts/cross.sh"; }

have_alsa() { # target
    if [ "$1" = x86_64-unknown-linux-gnu ]; then
        pkg-config --exists alsa
    else
        PKG_CONFIG_LIBDIR=/usr/lib/$(triple_of "$1")/pkgconfig PKG_CONFIG_PATH= pkg-config --exists alsa
    fi
}

# cargo command line for the cdylib of TARGET (features in $2), as an array in CMD; the cross
# environment is exported by the caller's subshell.
BUILD_DESC=""
cdylib_cmd() { # target features map
    local t=$1 feat=$2 map=$3
    local args=(rustc --lib --release --crate-type cdylib)
    if [ -n "$feat" ]; then args+=(--features "$feat"); fi
    args+=("${EXTRA_CARGO_ARGS[@]}")
    if [ "$t" != x86_64-unknown-linux-gnu ] && cross_sh_knows "$t"; then
        CMD=("$ROOT/scripts/cross.sh" "$t" "${args[@]}" -- -C "link-arg=-Wl,-Map=$map")
        BUILD_DESC="scripts/cross.sh $t ${args[*]} -- -C link-arg=-Wl,-Map=<map>"
    else
        CMD=(cargo "${args[@]}" --target "$t" -- -C "link-arg=-Wl,-Map=$map")
        BUILD_DESC="cargo ${args[*]} --target $t -- -C link-arg=-Wl,-Map=<map>"
        if [ "$t" != x86_64-unknown-linux-gnu ]; then
            BUILD_DESC+="  (CC/AR/linker/pkg-config for $(triple_of "$t") exported here: scripts/cross.sh does not know $t)"
        fi
    fi
    return 0
}

# Builds libavs.so for TARGET/FEATURES into target dir DIR; copies it (unstripped and stripped) to
# $FP/libs/NAME/. Sets SO (unstripped copy), SO_STRIPPED, MAP. EXTRA_CARGO_ARGS and the caller's
# environment are passed on.
EXTRA_CARGO_ARGS=()
build_so() { # name target features targetdir
    local name=$1 t=$2 feat=$3 dir=$4
    MAP=$FP/maps/$name.map
    local log=$FP/logs/build-$name.log out=$dir/$t/release/libavs.so
    cdylib_cmd "$t" "$feat" "$MAP"
    # The map is written at link time: without it (first run, or deleted) force the link.
    if [ ! -s "$MAP" ]; then rm -f "$out" "$dir/$t/release/deps/libavs.so"; fi
    if ! (
        export CARGO_TARGET_DIR=$dir
        if [ "$t" != x86_64-unknown-linux-gnu ] && ! cross_sh_knows "$t"; then cross_env_manual "$t"; fi
        run_logged "$log" "${NICE[@]}" "${CMD[@]}"
    ); then
        echo "footprint: build failed: $BUILD_DESC" >&2
        tail -n 30 "$log" >&2
        return 1
    fi
    mkdir -p "$FP/libs/$name"
    SO=$FP/libs/$name/libavs.so
    SO_STRIPPED=$FP/libs/$name/libavs.stripped.so
    cp -f "$out" "$SO"
    "$(tool "$t" strip)" -o "$SO_STRIPPED" "$SO"
}

declare -A TEXT DATA BSS FILE
measure() { # key target
    local line
    line=$("$(tool "$2" size)" "$SO_STRIPPED" | awk 'NR == 2 { print $1, $2, $3 }')
    read -r TEXT[$1] DATA[$1] BSS[$1] <<<"$line"
    FILE[$1]=$(stat -c %s "$SO_STRIPPED")
}

# ---------------------------------------------------------------------------- 1. code size
hdr "1. library code size: stripped libavs.so, release profile (opt-level s, fat LTO, codegen-units 1)"
note "per build: <cargo command below> in CARGO_TARGET_DIR=$TD/so-{base,alsa}; then <target>-strip -o libavs.stripped.so libavs.so; <target>-size libavs.stripped.so"
for t in "${TARGETS[@]}"; do
    cdylib_cmd "$t" "" "<map>"
    note "$t: $BUILD_DESC"
done
printf '\n  %-38s %-15s %-8s %9s %8s %7s %10s %9s\n' target mode features text data bss "text KB" "file B"
for t in "${TARGETS[@]}"; do
    for feat in "" alsa; do
        tag=${feat:-base}
        if [ -n "$feat" ] && ! have_alsa "$t"; then
            printf '  %-38s %-15s %-8s skipped: no libasound for %s\n' "$t" "$(mode_of "$t")" alsa "$t"
            continue
        fi
        build_so "$t-$tag" "$t" "$feat" "$TD/so-$tag"
        measure "$t-$tag" "$t"
        printf '  %-38s %-15s %-8s %9s %8s %7s %10s %9s\n' "$t" "$(mode_of "$t")" "${feat:--}" \
            "${TEXT[$t-$tag]}" "${DATA[$t-$tag]}" "${BSS[$t-$tag]}" "$(kb "${TEXT[$t-$tag]}")" "${FILE[$t-$tag]}"
    done
done

echo
note "Thumb-2 check, C: arm-linux-gnueabihf-gcc -Os -c on a test function, arm-linux-gnueabihf-objdump -d:"
cat >"$FP/thumbcheck.c" <<'EOF'
int fp_add(int a, int b) { return a * 3 + b; }
EOF
arm-linux-gnueabihf-gcc -Os -c -o "$FP/thumbcheck.o" "$FP/thumbcheck.c"
arm-linux-gnueabihf-objdump -d "$FP/thumbcheck.o" | sed -n '/<fp_add>:/,$p' | sed 's/^/      /'
if arm-linux-gnueabihf-readelf -s "$FP/thumbcheck.o" | grep -q '\$t$'; then
    note "  -> \$t mapping symbol, 16-bit encodings: Debian's arm-linux-gnueabihf-gcc emits Thumb-2 by default (cc-rs adds -mthumb for thumbv7neon too)"
else
    note "  -> no \$t mapping symbol: the C compiler emits ARM code by default here"
fi
note "Thumb vs ARM function bytes in the linked .so (FUNC symbols, low address bit = Thumb; footprint_parts.py isa):"
for key in "$THUMB-base" "armv7-unknown-linux-gnueabihf-base"; do
    [ -f "$FP/libs/$key/libavs.so" ] || continue
    read -r th nth ar nar < <("${PARTS[@]}" isa "$FP/libs/$key/libavs.so" --readelf arm-linux-gnueabihf-readelf)
    note "  $key: Thumb $th B in $nth functions, ARM $ar B in $nar functions"
done

# ---------------------------------------------------------------------------- 2. parts
mbed_lib_args() { # targetdir target
    local d
    d=$(ls -d "$1/$2"/release/build/mbedtls-sys-auto-*/out/lib 2>/dev/null | head -n1 || true)
    [ -n "$d" ] && printf -- '--lib mbedcrypto=%s/libmbedcrypto.a --lib mbedx509=%s/libmbedx509.a --lib mbedtls=%s/libmbedtls.a' "$d" "$d" "$d"; return 0
}
parts() { # name target targetdir [--brief]
    # shellcheck disable=SC2046
    "${PARTS[@]}" parts "$FP/maps/$1.map" "$FP/libs/$1/libavs.so" --readelf "$(tool "$2" readelf)" --ar "$(tool "$2" ar)" \
        $(mbed_lib_args "$3" "$2") "${@:4}"
}
hdr "2. what each part contributes to the armv7 Thumb-2 libavs.so ($THUMB)"
note "how: the builds above link with -C link-arg=-Wl,-Map=$FP/maps/<build>.map; every input section placed in an"
note "allocated output section is summed by origin (scripts/footprint_parts.py parts <map> <so>): C by archive member"
note "(mbedTLS objects sorted into libmbedcrypto/x509/tls by \`ar t\` of the built archives), Rust by symbol: fat LTO merges"
note "all Rust crates into one object, so its per-function sections (.text.<mangled>) are demangled (c++filt) and grouped by"
note "crate path; generic std code instantiated for a crate's types counts for that crate. text/data/bss as size(1) counts."
for tag in base alsa; do
    [ -f "$FP/libs/$THUMB-$tag/libavs.so" ] || continue
    echo
    note "$THUMB, features: $([ $tag = base ] && echo none || echo alsa)"
    parts "$THUMB-$tag" "$THUMB" "$TD/so-$tag"
done

# ---------------------------------------------------------------------------- 3. RAM
hdr "3. RAM of one client"
echo
# The client reserves its whole budget at creation (one region: buffers, nghttp2's pool, mbedTLS's
# pool), so its RAM is that region plus the few fixed structures kept on the heap ("Rust heap
# kept"), in steady state and at peak alike; "peak" adds what creation uses for a moment
# (measuring the CA certificates). "in use" is how much of the region is filled.
declare -A B_KEPT B_RPEAK B_STEADY B_PEAK B_RESERVED B_CALLOC
for budget in default small; do
    echo
    if [ $budget = default ]; then
        note "3a. memory of one connected client, default config: cargo bench --bench connection (x86_64, bench profile; its stdout):"
        benv=()
    else
        note "3a'. the same with the small budget: AVS_BENCH_SMALL=1 cargo bench --bench connection (benches/connection.rs: small_budget):"
        benv=(env AVS_BENCH_SMALL=1)
    fi
    BENCH_OUT=$FP/logs/bench-connection-$budget.out
    bench_ok=1
    if ! run_logged "$FP/logs/bench-connection-$budget.log" "${NICE[@]}" "${benv[@]}" cargo bench --bench connection; then
        bench_ok=0
        note "FAILED: cargo bench --bench connection (see $FP/logs/bench-connection-$budget.log)"
        tail -n 20 "$FP/logs/bench-connection-$budget.log" | sed 's/^/      /'
    fi
    if [ $bench_ok = 1 ]; then
        # the bench's own lines: everything after cargo's "Running" line that is not cargo/gen-certs chatter
        sed -n '/Running .*connection/,$p' "$FP/logs/bench-connection-$budget.log" | sed '1d' |
            grep -vE '^(gen-certs|\s*$|warning|\s+Compiling|\s+Finished)' >"$BENCH_OUT" || true
        sed 's/^/      /' "$BENCH_OUT"
    fi
    B_STEADY[$budget]=$(sed -nE 's/.*in use: steady ([0-9]+) B.*/\1/p' "$BENCH_OUT" 2>/dev/null | head -n1 || true)
    B_PEAK[$budget]=$(sed -nE 's/.*in use: .*peak ([0-9]+) B.*/\1/p' "$BENCH_OUT" 2>/dev/null | head -n1 || true)
    B_RESERVED[$budget]=$(sed -nE 's/.*reserved at creation: *([0-9]+) B.*/\1/p' "$BENCH_OUT" 2>/dev/null | head -n1 || true)
    B_KEPT[$budget]=$(sed -nE 's/.*Rust heap kept ([0-9]+) B.*/\1/p' "$BENCH_OUT" 2>/dev/null | head -n1 || true)
    B_RPEAK[$budget]=$(sed -nE 's/.*Rust heap kept [0-9]+ B, peak ([0-9]+) B.*/\1/p' "$BENCH_OUT" 2>/dev/null | head -n1 || true)
    B_CALLOC[$budget]=$(sed -nE 's/.*; ([0-9]+) calls for 20 directives.*/\1/p' "$BENCH_OUT" 2>/dev/null | head -n1 || true)
done

# massif on a voice turn
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT
CERTS=$ROOT/target/footprint-certs
start_server() {
    python3 "$ROOT/emulator/avs_server.py" gen-certs "$CERTS" >/dev/null 2>&1
    # Its stdin is a pipe held by this shell: the server exits when the script does.
    coproc SRV { exec python3 "$ROOT/emulator/avs_server.py" serve --certs "$CERTS" --token t --quiet 2>"$FP/logs/server.log"; }
    SERVER_PID=$SRV_PID
    local hello
    read -r -t 30 hello <&"${SRV[0]}" || { echo "footprint: the AVS server did not start" >&2; cat "$FP/logs/server.log" >&2; return 1; }
    PORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$hello")
}
MASSIF_CMD_DESC=""
MASSIF_EXTRA=()
massif_turn() { # app out-prefix -> prints the analysis; sets M_PEAK M_USEFUL M_LIBPEAK
    local app=$1 pre=$2
    local cmd=(valgrind --tool=massif --massif-out-file="$pre.massif" --time-unit=B --detailed-freq=1 --max-snapshots=400
        --threshold=0.1 --depth=40 "$app" --endpoint "https://localhost:$PORT" --ca-file "$CERTS/ca.pem" --token t
        --audio-in "$ROOT/emulator/fixtures/utterance.wav" --profile NEAR_FIELD --speech-out /tmp/fp.mp3)
    MASSIF_CMD_DESC="valgrind --tool=massif --time-unit=B --detailed-freq=1 --max-snapshots=400 --threshold=0.1 --depth=40 $(basename "$app") --endpoint https://localhost:<port> --ca-file target/footprint-certs/ca.pem --token t --audio-in emulator/fixtures/utterance.wav --profile NEAR_FIELD --speech-out /tmp/fp.mp3"
    rm -f /tmp/fp.mp3
    if ! timeout 600 "${cmd[@]}" >"$pre.app.out" 2>"$pre.valgrind.log"; then
        note "FAILED: avs_assistant under massif (see $pre.app.out, $pre.valgrind.log)"
        tail -n 5 "$pre.app.out" | sed 's/^/      /'
        return 1
    fi
    note "avs_assistant: $(grep -E '^done:' "$pre.app.out" | head -n1); Speak MP3 $(cmp -s /tmp/fp.mp3 "$ROOT/emulator/fixtures/speak.mp3" && echo "identical to emulator/fixtures/speak.mp3" || echo "DIFFERS from emulator/fixtures/speak.mp3")"
    ms_print "$pre.massif" >"$pre.ms_print.txt"
    "${PARTS[@]}" massif "$pre.massif" --header "$ROOT/include/avs.h" "${MASSIF_EXTRA[@]}" >"$pre.analysis"
    grep -vE '^(PEAK|LIBPEAK) ' "$pre.analysis"
    read -r _ M_PEAK M_USEFUL < <(grep '^PEAK ' "$pre.analysis")
    M_LIBPEAK=$(sed -n 's/^LIBPEAK //p' "$pre.analysis")
}
print_ms_print_peak() { # ms_print file: the peak snapshot's tree, first two levels
    local f=$1 peak
    peak=$(sed -n 's/.*[ ,\[]\([0-9]\+\) (peak).*/\1/p' "$f" | head -n1)
    [ -n "$peak" ] || return 0
    note "ms_print, peak snapshot $peak (top two levels of the allocation tree; full output in $f):"
    awk -v p="$peak" '
        $1 == p && $2 ~ /^[0-9,]+$/ && NF >= 6 { f = 1; next }
        f && /^ *[0-9]+ +[0-9,]+ +[0-9,]+/ { exit }
        f && /^-{10,}/ { exit }
        f' "$f" | grep -E '^[0-9.]+% |^(->|\| ->)' | head -n 40 | cut -c1-150 | sed 's/^/      /'
}

echo
note "3b. peak heap of a whole voice turn: valgrind massif on c-examples' avs_assistant (release, x86_64)"
APP_BUILD=$FP/c-build
note "build: make -C c-examples BUILD=$APP_BUILD LIBDIR=$TD/release   (release library with --features alsa, the Makefile's"
note "       native default, via its cargo rustc --crate-type staticlib --crate-type cdylib; a private BUILD dir:"
note "       c-examples/build/ is what the user built with make -C c-examples)"
M_PEAK="" M_USEFUL="" M_LIBPEAK=""
if run_logged "$FP/logs/make-c-examples.log" "${NICE[@]}" make -C "$ROOT/c-examples" BUILD="$APP_BUILD" LIBDIR="$TD/release"; then
    start_server
    massif_turn "$APP_BUILD/avs_assistant" "$FP/turn" || true
    note "command: $MASSIF_CMD_DESC"
    note "         (server: python3 emulator/avs_server.py serve --certs target/footprint-certs --token t --quiet, stdin a pipe)"
    [ -f "$FP/turn.ms_print.txt" ] && print_ms_print_peak "$FP/turn.ms_print.txt"
    stop_server
else
    note "FAILED: make -C c-examples (see $FP/logs/make-c-examples.log)"
fi

echo
note "3c. static RAM of the library: data + bss of the stripped libavs.so (from step 1; data includes .data.rel.ro,"
note "    relocated at load time: vtables, panic locations, C tables of pointers):"
for t in "${TARGETS[@]}"; do
    for tag in base alsa; do
        k=$t-$tag
        [ -n "${TEXT[$k]-}" ] || continue
        note "  $(printf '%-38s %-6s data %6s + bss %6s = %6s B (%s KB)' "$t" "$tag" "${DATA[$k]}" "${BSS[$k]}" "$((DATA[$k] + BSS[$k]))" "$(kb $((DATA[$k] + BSS[$k])))")"
    done
done

# ---------------------------------------------------------------------------- 4. no_alloc
hdr "4. heap calls in steady state: cargo test --test no_alloc -- --nocapture (its own lines)"
NOALLOC_LOG=$FP/logs/no_alloc.log
if run_logged "$NOALLOC_LOG" "${NICE[@]}" cargo test --test no_alloc -- --nocapture; then noalloc_ok=1; else noalloc_ok=0; fi
grep -E '^round [0-9]+:|turns:|^test |^test result' "$NOALLOC_LOG" | sed 's/^/      /' || true
[ $noalloc_ok = 1 ] || note "FAILED: cargo test --test no_alloc (see $NOALLOC_LOG)"
NA_ROUNDS=$(grep -E '^round [1-9][0-9]*:|turns:' "$NOALLOC_LOG" | grep -oE 'Rust core allocations [0-9]+' | awk '{ s += $4 } END { print s + 0 }')
NA_NG=$(grep -E '^round [1-9][0-9]*:|turns:' "$NOALLOC_LOG" | sed -nE 's/.*nghttp2: ([0-9]+) allocation calls.*/\1/p; s/.*nghttp2 allocation calls ([0-9]+).*/\1/p' | paste -sd/ - || true)

# ---------------------------------------------------------------------------- 5. variants
declare -A VT VD VB VDESC
VARIANTS=()
VFEAT=""
variant() { # key description targetdir [features in VFEAT, build args in EXTRA_CARGO_ARGS, env set by caller]
    local key=$1 desc=$2 dir=$3
    if build_so "$THUMB-var-$key" "$THUMB" "$VFEAT" "$dir"; then
        measure "var-$key" "$THUMB"
        VT[$key]=${TEXT[var-$key]} VD[$key]=${DATA[var-$key]} VB[$key]=${BSS[var-$key]}
    else
        VT[$key]=failed VD[$key]=- VB[$key]=-
    fi
    VDESC[$key]=$desc
    VARIANTS+=("$key")
}

# A client-only mbedTLS 2.28 configuration. mbedtls-sys-auto writes config.h itself (build/config.rs,
# everything on) and ends it with #include <mbedtls/check_config.h>; a copy of its vendored source
# (RUST_MBEDTLS_SYS_SOURCE) whose check_config.h starts with these #undefs trims it, for the C build
# and bindgen alike. Kept (the mbedtls 0.13 crate binds their functions or sizes their structs):
# SSL_SRV_C, SSL_PROTO_DTLS + DTLS_HELLO_VERIFY, RENEGOTIATION, DHM_C, KEY_EXCHANGE_PSK, PK/PEM_WRITE,
# X509 CREATE/CRT_WRITE/CSR_*, CMAC_C, CIPHER_MODE_CBC + PADDING_PKCS7, SELF_TEST (all dropped
# by --gc-sections where nothing calls them).
MBED_UNDEFS="SSL_CACHE_C SSL_COOKIE_C SSL_TICKET_C SSL_DTLS_ANTI_REPLAY SSL_DTLS_CLIENT_PORT_REUSE
SSL_DTLS_BADMAC_LIMIT SSL_DTLS_CONNECTION_ID SSL_DTLS_SRTP SSL_TRUNCATED_HMAC SSL_EXPORT_KEYS
SSL_CBC_RECORD_SPLITTING SSL_ENCRYPT_THEN_MAC KEY_EXCHANGE_DHE_PSK_ENABLED KEY_EXCHANGE_ECDHE_PSK_ENABLED
KEY_EXCHANGE_RSA_PSK_ENABLED KEY_EXCHANGE_RSA_ENABLED KEY_EXCHANGE_DHE_RSA_ENABLED KEY_EXCHANGE_ECDH_ECDSA_ENABLED
KEY_EXCHANGE_ECDH_RSA_ENABLED KEY_EXCHANGE_ECJPAKE_ENABLED ARC4_C BLOWFISH_C CAMELLIA_C ARIA_C DES_C XTEA_C
CCM_C NIST_KW_C ECJPAKE_C CHACHA20_C CHACHAPOLY_C POLY1305_C MD2_C MD4_C MD5_C RIPEMD160_C CIPHER_MODE_CFB
CIPHER_MODE_OFB CIPHER_MODE_XTS CIPHER_MODE_CTR CIPHER_PADDING_ONE_AND_ZEROS CIPHER_PADDING_ZEROS_AND_LEN
CIPHER_PADDING_ZEROS ECP_DP_SECP192R1_ENABLED ECP_DP_SECP224R1_ENABLED ECP_DP_SECP521R1_ENABLED
ECP_DP_SECP192K1_ENABLED ECP_DP_SECP224K1_ENABLED ECP_DP_SECP256K1_ENABLED ECP_DP_BP256R1_ENABLED
ECP_DP_BP384R1_ENABLED ECP_DP_BP512R1_ENABLED ECP_DP_CURVE448_ENABLED PKCS5_C PKCS12_C CERTS_C
VERSION_FEATURES GENPRIME PK_RSA_ALT_SUPPORT DEBUG_C NET_C TIMING_C HKDF_C HMAC_DRBG_C
X509_RSASSA_PSS_SUPPORT PKCS1_V21"
# Values config.h leaves unset can be given as -D through CFLAGS_<target> (cc-rs -> cmake-rs);
# the 4 KB TLS output buffer is the default now (third_party/mbedtls-sys-auto/AVS-PATCHES.md).
MBED_CFLAGS_ROM="-DMBEDTLS_AES_ROM_TABLES -DMBEDTLS_AES_FEWER_TABLES"

mbed_trim_src() { # -> path of the trimmed source copy (created once per #undef list)
    local reg vendor h dst
    vendor=$ROOT/third_party/mbedtls-sys-auto/vendor
    h=$(printf '%s' "$MBED_UNDEFS" | sha256sum | cut -c1-12)
    dst=$FP/mbedtls-client-only-$h
    if [ ! -f "$dst/.done" ]; then
        rm -rf "$dst"
        cp -a "$vendor" "$dst"
        {
            echo "/* scripts/footprint.sh: client-only trim of mbedtls-sys-auto's generated config.h */"
            for d in $MBED_UNDEFS; do echo "#undef MBEDTLS_$d"; done
            cat "$vendor/include/mbedtls/check_config.h"
        } >"$dst/include/mbedtls/check_config.h"
        touch "$dst/.done"
    fi
    echo "$dst"
}

if [ "${FP_VARIANTS:-1}" != 0 ]; then
    hdr "5. what-if variants of the Thumb-2 library (no ALSA unless said), each measured like step 1"
    TU_THUMB=${THUMB//-/_}
    note "base: as in step 1"
    VT[base]=${TEXT[$THUMB-base]} VD[base]=${DATA[$THUMB-base]} VB[base]=${BSS[$THUMB-base]} VDESC[base]="the release profile (step 1)"
    VARIANTS+=(base)

    EXTRA_CARGO_ARGS=(--config 'profile.release.opt-level="z"')
    variant optz "opt-level z instead of s (Rust; C follows: cmake MinSizeRel / cc -Oz)" "$TD/so-var-optz"
    EXTRA_CARGO_ARGS=(--config 'profile.release.package.mbedtls-sys-auto.opt-level=2' --config 'profile.release.package.libnghttp2-sys.opt-level=2')
    variant c-o2 "C at -O2 instead of -Os (profile override for mbedtls-sys-auto, libnghttp2-sys: cmake Release, cc -O2)" "$TD/so-var-c-o2"
    EXTRA_CARGO_ARGS=()
    (export "CFLAGS_${TU_THUMB}=$MBED_CFLAGS_ROM"; variant aes-rom "CFLAGS_${TU_THUMB}='$MBED_CFLAGS_ROM' (AES tables const, 2 KB instead of 8 KB)" "$TD/so-var-aes-rom"
        declare -p VT VD VB VDESC VARIANTS >"$FP/logs/var-aes-rom.state")
    # shellcheck disable=SC1090
    source "$FP/logs/var-aes-rom.state"
    TRIM_SRC=$(mbed_trim_src)
    (export RUST_MBEDTLS_SYS_SOURCE=$TRIM_SRC; variant mbed-client "client-only mbedTLS config beyond the default trim (third_party/mbedtls-sys-auto AVS_UNDEFINED): $(wc -w <<<"$MBED_UNDEFS") options #undef'd (list in scripts/footprint.sh; needs --gc-sections, drops ChaCha20-Poly1305)" "$TD/so-var-mbed-client"
        declare -p VT VD VB VDESC VARIANTS >"$FP/logs/var-mbed.state")
    # shellcheck disable=SC1090
    source "$FP/logs/var-mbed.state"
    BSTD=(-Zbuild-std=std,panic_unwind -Zbuild-std-features=panic-unwind,optimize_for_size)
    if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
        note "rustup component add rust-src (for -Zbuild-std)"
        rustup component add rust-src >/dev/null 2>&1 || true
    fi
    if rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
        (export RUSTC_BOOTSTRAP=1; EXTRA_CARGO_ARGS=("${BSTD[@]}")
            variant std-nobt "std rebuilt: RUSTC_BOOTSTRAP=1 ${BSTD[*]} (no backtrace symbolization; unwinding kept)" "$TD/so-var-std"
            export RUST_MBEDTLS_SYS_SOURCE=$TRIM_SRC "CFLAGS_${TU_THUMB}=$MBED_CFLAGS_ROM"
            variant all "all of: client-only mbedTLS + AES ROM tables + rebuilt std" "$TD/so-var-all"
            EXTRA_CARGO_ARGS+=(--config 'profile.release.opt-level="z"')
            variant all-z "all of the above + opt-level z" "$TD/so-var-all-z"
            if have_alsa "$THUMB"; then
                EXTRA_CARGO_ARGS=("${BSTD[@]}")
                VFEAT=alsa
                variant all-alsa "'all' with --features alsa" "$TD/so-var-all-alsa"
            fi
            declare -p VT VD VB VDESC VARIANTS >"$FP/logs/var-std.state")
        # shellcheck disable=SC1090
        source "$FP/logs/var-std.state"
    else
        note "skipped the std variants: no rust-src component"
    fi
    echo
    printf '  %-12s %9s %9s %8s %7s %9s  %s\n' variant text "Δ text" data bss "text KB" "what"
    for k in "${VARIANTS[@]}"; do
        if [ "${VT[$k]}" = failed ]; then
            printf '  %-12s %9s %9s %8s %7s %9s  %s\n' "$k" failed - - - - "${VDESC[$k]} (see $FP/logs/build-$THUMB-var-$k.log)"
        else
            printf '  %-12s %9s %+9d %8s %7s %9s  %s\n' "$k" "${VT[$k]}" "$((VT[$k] - VT[base]))" "${VD[$k]}" "${VB[$k]}" "$(kb "${VT[$k]}")" "${VDESC[$k]}"
        fi
    done
    for k in mbed-client all; do
        [ -n "${VT[$k]-}" ] && [ "${VT[$k]}" != failed ] || continue
        echo
        note "parts of variant '$k':"
        parts "$THUMB-var-$k" "$THUMB" "$TD/so-var-$k" --top 8 --brief
    done

    # RAM: the same voice turn with the client-only mbedTLS config and AES ROM tables,
    # then also with smaller avs_config capacities. avs_assistant has no options for those: a
    # private build links it with -Wl,--wrap=avs_client_new and a 20-line shim that overrides
    # the capacities from FP_* variables (unset = the library's defaults).
    echo
    note "RAM variants: the voice turn of 3b with avs_assistant linked against a library with the client-only mbedTLS"
    note "config + CFLAGS_x86_64_unknown_linux_gnu='$MBED_CFLAGS_ROM' (x86_64), and a shim"
    note "(-Wl,--wrap=avs_client_new, $FP/fp_config_wrap.c) that sets avs_config capacities from FP_* variables."
    note "build: RUST_MBEDTLS_SYS_SOURCE=<trimmed copy> CARGO_TARGET_DIR=$TD/var-ram make -C c-examples BUILD=$FP/c-build-var \\"
    note "       LIBDIR=$TD/var-ram/release LDFLAGS='-Wl,--wrap=avs_client_new $FP/fp_config_wrap.o'"
    cat >"$FP/fp_config_wrap.c" <<'EOF_C'
/* scripts/footprint.sh: linked with -Wl,--wrap=avs_client_new into a private avs_assistant build;
 * overrides avs_config capacities from FP_* environment variables (unset = the defaults). */
#include <stdlib.h>
#include "avs.h"
avs_status __real_avs_client_new(const avs_config *config, const avs_callbacks *callbacks, avs_client **out);
static void set(const char *name, uint32_t *field) {
    const char *v = getenv(name);
    if (v && *v) *field = (uint32_t)strtoul(v, NULL, 10);
}
avs_status __wrap_avs_client_new(const avs_config *config, const avs_callbacks *callbacks, avs_client **out) {
    if (!config) return __real_avs_client_new(config, callbacks, out);
    avs_config c = *config;
    set("FP_EVENT_QUEUE_CAPACITY", &c.event_queue_capacity);
    set("FP_MAX_EVENT_BYTES", &c.max_event_bytes);
    set("FP_MAX_DIRECTIVE_BYTES", &c.max_directive_bytes);
    set("FP_MAX_STREAMS", &c.max_streams);
    set("FP_AUDIO_RING_BYTES", &c.audio_ring_bytes);
    set("FP_ATTACHMENT_BUFFER_BYTES", &c.attachment_buffer_bytes);
    set("FP_HTTP2_MEMORY_BYTES", &c.http2_memory_bytes);
    set("FP_TLS_MEMORY_BYTES", &c.tls_memory_bytes);
    return __real_avs_client_new(&c, callbacks, out);
}
EOF_C
    # Smaller capacities. (b) FP_SMALL_CONFIG: the small budget of benches/connection.rs
    # (small_budget): pools for one connection (a GOAWAY's new connection waits for the old one
    # to drain, tests/memory.rs), 2 queued 1 KB events, 2 KB directives on the downchannel + 2
    # streams, 0.2 s of audio ring, 4 KB of Speak audio ahead of its directive.
    # (c) FP_TINY_CONFIG: what the buffers cannot go below without changes to the library: pools
    # with about 1 KB of headroom over one session's measured peak (a longer server certificate
    # chain than the test one would not fit), 1 queued event, 0.1 s of audio ring; validated by
    # this one turn only.
    SMALL=${FP_SMALL_CONFIG:-"FP_HTTP2_MEMORY_BYTES=16384 FP_TLS_MEMORY_BYTES=36864 FP_EVENT_QUEUE_CAPACITY=2 FP_MAX_EVENT_BYTES=1024 FP_MAX_DIRECTIVE_BYTES=2048 FP_MAX_STREAMS=2 FP_AUDIO_RING_BYTES=6400 FP_ATTACHMENT_BUFFER_BYTES=4096"}
    TINY=${FP_TINY_CONFIG:-"FP_HTTP2_MEMORY_BYTES=12288 FP_TLS_MEMORY_BYTES=32768 FP_EVENT_QUEUE_CAPACITY=1 FP_MAX_EVENT_BYTES=1024 FP_MAX_DIRECTIVE_BYTES=2048 FP_MAX_STREAMS=2 FP_AUDIO_RING_BYTES=3200 FP_ATTACHMENT_BUFFER_BYTES=2048"}
    MV_LIBPEAK="" MS_LIBPEAK="" MT_LIBPEAK=""
    if cc -O2 -Wall -Wextra -Werror -std=c11 -I"$ROOT/include" -c -o "$FP/fp_config_wrap.o" "$FP/fp_config_wrap.c" 2>"$FP/logs/fp_config_wrap.log" &&
        (export RUST_MBEDTLS_SYS_SOURCE=$TRIM_SRC CARGO_TARGET_DIR=$TD/var-ram CFLAGS_x86_64_unknown_linux_gnu="$MBED_CFLAGS_ROM"
            run_logged "$FP/logs/make-c-examples-var.log" "${NICE[@]}" make -C "$ROOT/c-examples" BUILD="$FP/c-build-var" \
                LIBDIR="$TD/var-ram/release" LDFLAGS="-Wl,--wrap=avs_client_new $FP/fp_config_wrap.o"); then
        start_server
        echo
        note "(a) client-only mbedTLS + AES ROM tables, default capacities:"
        if massif_turn "$FP/c-build-var/avs_assistant" "$FP/turn-var"; then
            MV_LIBPEAK=$M_LIBPEAK
        fi
        for which in small tiny; do
            if [ $which = small ]; then conf=$SMALL; lbl="(b) (a) + smaller capacities (FP_SMALL_CONFIG)"; else conf=$TINY; lbl="(c) (a) + minimal capacities (FP_TINY_CONFIG)"; fi
            echo
            note "$lbl: $conf"
            conf_defaults=()
            for kv in $conf; do
                f=${kv%%=*}; f=${f#FP_}; f=${f,,}
                conf_defaults+=(--defaults "$f=${kv#*=}")
            done
            if (for kv in $conf; do export "${kv?}"; done; MASSIF_EXTRA=("${conf_defaults[@]}"); massif_turn "$FP/c-build-var/avs_assistant" "$FP/turn-$which"); then
                v=$(sed -n 's/^LIBPEAK //p' "$FP/turn-$which.analysis")
                if [ $which = small ]; then MS_LIBPEAK=$v; else MT_LIBPEAK=$v; fi
            fi
        done
        stop_server
        # the baseline values for the summary
        read -r _ M_PEAK M_USEFUL < <(grep '^PEAK ' "$FP/turn.analysis" 2>/dev/null || echo "PEAK  ")
        M_LIBPEAK=$(sed -n 's/^LIBPEAK //p' "$FP/turn.analysis" 2>/dev/null || true)
    else
        note "FAILED: the variant build (see $FP/logs/make-c-examples-var.log, $FP/logs/fp_config_wrap.log)"
    fi
fi

# ---------------------------------------------------------------------------- summary
hdr "summary (targets from the issue; measured values; KB = 1024 B)"
ST_T=$((DATA[$THUMB-base] + BSS[$THUMB-base]))
verdict() { # value limit
    if [ -z "$1" ]; then echo "n/a"; elif [ "$1" -le "$2" ]; then echo "met"; else echo "MISSED by $(kb $(($1 - $2))) KB"; fi
}
fmtkb() { [ -n "$1" ] && echo "$1 B ($(kb "$1") KB)" || echo "n/a"; }
LIM_PEAK=$((96 * 1024)) LIM_STEADY=$((64 * 1024)) LIM_CODE=$((350 * 1024))
PEAK_CLIENT=""; [ -n "${M_LIBPEAK}" ] && PEAK_CLIENT=$((M_LIBPEAK + ST_T))
plus_static() { [ -n "$1" ] && echo $(($1 + ST_T)) || echo ""; }
printf '  %-62s %-12s %-28s %s\n' "" target measured verdict
for budget in small default; do
    printf '  %-62s %-12s %-28s %s\n' "peak RAM of one client, heap + static, $budget budget (bench)" "<= 96 KB" "$(fmtkb "$(plus_static "${B_RPEAK[$budget]}")")" "$(verdict "$(plus_static "${B_RPEAK[$budget]}")" $LIM_PEAK)"
    printf '  %-62s %-12s %-28s %s\n' "steady RAM of one client, heap + static, $budget budget (bench)" "<= 64 KB" "$(fmtkb "$(plus_static "${B_KEPT[$budget]}")")" "$(verdict "$(plus_static "${B_KEPT[$budget]}")" $LIM_STEADY)"
    printf '  %-62s %-12s %-28s %s\n' "   = reserved region $(kb "${B_RESERVED[$budget]:-0}") KB + fixed heap $(kb $(( ${B_KEPT[$budget]:-0} - ${B_RESERVED[$budget]:-0} ))) KB + Thumb-2 data+bss $(kb $ST_T) KB; of the region in use: steady $(kb "${B_STEADY[$budget]:-0}") KB, peak $(kb "${B_PEAK[$budget]:-0}") KB" "" "" ""
done
printf '  %-62s %-12s %-28s %s\n' "peak RAM of one client, heap + static: voice turn (massif, default)" "<= 96 KB" "$(fmtkb "$PEAK_CLIENT")" "$(verdict "$PEAK_CLIENT" $LIM_PEAK)"
printf '  %-62s %-12s %-28s %s\n' "   = library heap at its peak $(kb "${M_LIBPEAK:-0}") KB + Thumb-2 data+bss $(kb $ST_T) KB" "" "" ""
printf '  %-62s %-12s %-28s %s\n' "armv7 Thumb-2 stripped library code (text), no ALSA" "<= 350 KB" "$(fmtkb "${TEXT[$THUMB-base]}")" "$(verdict "${TEXT[$THUMB-base]}" $LIM_CODE)"
[ -n "${TEXT[$THUMB-alsa]-}" ] &&
    printf '  %-62s %-12s %-28s %s\n' "armv7 Thumb-2 stripped library code (text), --features alsa" "<= 350 KB" "$(fmtkb "${TEXT[$THUMB-alsa]}")" "$(verdict "${TEXT[$THUMB-alsa]}" $LIM_CODE)"
hc="Rust core allocations (rounds 1+ / 100 voice turns) ${NA_ROUNDS:-n/a}; C heap calloc calls ${B_CALLOC[default]:-n/a}; nghttp2 calls, served from its pool (rounds 1-3 / 100 turns) ${NA_NG:-n/a}"
if [ "${noalloc_ok:-0}" = 1 ] && [ "${NA_ROUNDS:-1}" = 0 ] && [ "${B_CALLOC[default]:-1}" = 0 ]; then hv=met; else hv="see step 4"; fi
printf '  %-62s %-12s %-28s %s\n' "heap calls in steady state (no_alloc test, connection bench)" "0" "see right" "$hv: $hc"
if [ "${FP_VARIANTS:-1}" != 0 ]; then
    for k in mbed-client std-nobt all all-z all-alsa; do
        [ -n "${VT[$k]-}" ] && [ "${VT[$k]}" != failed ] || continue
        printf '  %-62s %-12s %-28s %s\n' "what-if $k: Thumb-2 text" "<= 350 KB" "$(fmtkb "${VT[$k]}")" "$(verdict "${VT[$k]}" $LIM_CODE)"
    done
    STV=$(( ${VD[all]:-${DATA[$THUMB-base]}} + ${VB[all]:-${BSS[$THUMB-base]}} ))
    if [ -n "${MV_LIBPEAK:-}" ]; then
        printf '  %-62s %-12s %-28s %s\n' "what-if (a) client-only mbedTLS, AES ROM: turn heap + static*" "<= 96 KB" "$(fmtkb $((MV_LIBPEAK + STV)))" "$(verdict $((MV_LIBPEAK + STV)) $LIM_PEAK)"
    fi
    if [ -n "${MS_LIBPEAK:-}" ]; then
        printf '  %-62s %-12s %-28s %s\n' "what-if (b) = (a) + smaller capacities: turn heap + static*" "<= 96 KB" "$(fmtkb $((MS_LIBPEAK + STV)))" "$(verdict $((MS_LIBPEAK + STV)) $LIM_PEAK)"
    fi
    if [ -n "${MT_LIBPEAK:-}" ]; then
        printf '  %-62s %-12s %-28s %s\n' "what-if (c) = (a) + minimal capacities: turn heap + static*" "<= 96 KB" "$(fmtkb $((MT_LIBPEAK + STV)))" "$(verdict $((MT_LIBPEAK + STV)) $LIM_PEAK)"
    fi
    if [ -n "${MV_LIBPEAK:-}${MS_LIBPEAK:-}${MT_LIBPEAK:-}" ]; then
        note "* static = data+bss of the Thumb-2 variant 'all' ($(kb "$STV") KB); heap = massif library-only peak (step 5)"
    fi
fi
note "heap figures are x86_64 (64-bit pointers; the large buffers are byte arrays of the same size on armv7);"
note "the massif figure counts only the library's allocations (the C example's WAV buffer and libc's stdio are listed apart in 3b)."
note "run time: $((SECONDS - START)) s; outputs in $FP"
