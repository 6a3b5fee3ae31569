#!/usr/bin/env bash
# Cross-build / cross-test the crate in the current directory for a Linux
# device target:
#
#   scripts/cross.sh TARGET [cargo args...]      e.g.
#   scripts/cross.sh armv7-unknown-linux-gnueabihf build --release --lib
#   scripts/cross.sh aarch64-unknown-linux-gnu test --lib -- --test-threads=1
#
# runs `cargo "$@" --target TARGET` (--target goes before a `--`, if any)
# with the C cross toolchain exported for the -sys crates:
#   * mbedtls-sys-auto: cmake-rs takes the C compiler from cc-rs (CC_<target>)
#     and sets CMAKE_SYSTEM_NAME/PROCESSOR itself; its bindgen step gets
#     --target from bindgen and --sysroot from `$CC --print-sysroot`.
#   * libnghttp2-sys: cc-rs (CC_<target>, AR_<target>, CFLAGS...).
#
# A firmware toolchain environment (Buildroot / Yocto SDK: CC, AR, CFLAGS,
# LDFLAGS, or the target-specific CC_<target> / TARGET_CC ...) is honoured:
# we only fill in what is unset. When such a CC is set, the Rust linker is
# taken from it too (its extra words, e.g. --sysroot=..., become link args).
#
# For test/run/bench the qemu-user runner is chosen by probing: a tiny Rust
# program that spawns a thread and unwinds a panic is run under qemu with
# each candidate sysroot (`$CC --print-sysroot`, /usr/<triple>, /) and the
# first that works is exported as CARGO_TARGET_<TARGET>_RUNNER. (Debian's
# *-cross packages need /usr/<triple>; with multiarch :armhf/:arm64 libs
# installed, "/" is the one that works.)
#
# Works from any crate directory: the linker/runner defaults in the repo's
# .cargo/config.toml are used when cargo sees them, otherwise exported here.
set -euo pipefail

usage() {
    echo "usage: $0 {armv7-unknown-linux-gnueabihf|aarch64-unknown-linux-gnu} [cargo args...]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
target=$1
shift

case "$target" in
    armv7-unknown-linux-gnueabihf) triple=arm-linux-gnueabihf; qemu=qemu-arm ;;
    aarch64-unknown-linux-gnu)     triple=aarch64-linux-gnu;   qemu=qemu-aarch64 ;;
    *) echo "cross.sh: unsupported target '$target'" >&2; usage ;;
esac

tu=${target//-/_}          # armv7_unknown_linux_gnueabihf
TU=${tu^^}                 # ARMV7_UNKNOWN_LINUX_GNUEABIHF

note() { echo "cross.sh: $*" >&2; }
getvar() { printf '%s' "${!1-}"; }
isset() { [ -n "${!1+x}" ]; }

# ---------------------------------------------------------------- C compiler
# cc-rs looks up CC_<target>, CC_<target_underscored>, TARGET_CC, CC in this
# order; so does our "is a user toolchain set?" check.
user_cc=""
user_cc_var=""
for v in "CC_${target}" "CC_${tu}" TARGET_CC CC; do
    # bash can't expand a name containing '-', read it via env
    val=$(env | sed -n "s/^${v}=//p" | head -n1)
    if [ -n "$val" ]; then user_cc=$val; user_cc_var=$v; break; fi
done

if [ -z "$user_cc" ]; then
    export "CC_${tu}=${triple}-gcc"
    cc_cmd="${triple}-gcc"
    note "CC_${tu}=${triple}-gcc"
else
    cc_cmd=$user_cc
    note "using C compiler from \$${user_cc_var}: ${user_cc}"
fi

have_ar=""
for v in "AR_${target}" "AR_${tu}" TARGET_AR AR; do
    val=$(env | sed -n "s/^${v}=//p" | head -n1)
    if [ -n "$val" ]; then have_ar=$v; break; fi
done
if [ -z "$have_ar" ]; then
    export "AR_${tu}=${triple}-ar"
    note "AR_${tu}=${triple}-ar"
else
    note "using archiver from \$${have_ar}"
fi

# A plain CC/AR (not target-qualified) would also be used by cc-rs for
# host-side C builds (build scripts, proc-macros); pin those to the host.
# (cc-rs merges CFLAGS into every build, host ones too; nothing in our
# dependency graph compiles C for the host, so that is left alone.)
if [ "$user_cc_var" = CC ] && ! isset HOST_CC; then export HOST_CC=cc; fi
if [ "$have_ar" = AR ] && ! isset HOST_AR; then export HOST_AR=ar; fi

read -r -a cc_words <<<"$cc_cmd"
# CC="ccache arm-...-gcc": the compiler is the second word (as in cc-rs)
case "$(basename "${cc_words[0]}")" in
    ccache|sccache|distcc|icecc|cachepot|buildcache)
        [ ${#cc_words[@]} -gt 1 ] && cc_words=("${cc_words[@]:1}") ;;
esac
cc_prog=${cc_words[0]}
cc_extra=("${cc_words[@]:1}")
# cc-rs keeps flags embedded in CC (`CC="gcc --sysroot=... -mcpu=..."`) as
# "wrapper args", which cmake-rs does not forward to CMAKE_C_FLAGS: mbedTLS
# would be built without them. Repeat them in CFLAGS_<target> (cc-rs merges
# CFLAGS, TARGET_CFLAGS and CFLAGS_<target>), which cmake-rs does forward.
if [ ${#cc_extra[@]} -gt 0 ]; then
    prev=$(getvar "CFLAGS_${tu}")
    export "CFLAGS_${tu}=${cc_extra[*]}${prev:+ $prev}"
    note "CFLAGS_${tu}=$(getvar "CFLAGS_${tu}")"
fi
if ! command -v "$cc_prog" >/dev/null 2>&1; then
    note "ERROR: C cross compiler '$cc_prog' not found (run scripts/deps.sh)"
    exit 1
fi

# -------------------------------------------------------------------- linker
# Does a cargo config visible from here configure this target?
cargo_config_has_target() {
    local d=$PWD f
    while :; do
        for f in "$d/.cargo/config.toml" "$d/.cargo/config"; do
            if [ -f "$f" ] && grep -q "^\[target\.${target}\]" "$f"; then return 0; fi
        done
        [ "$d" = / ] && break
        d=$(dirname "$d")
    done
    for f in "${CARGO_HOME:-$HOME/.cargo}/config.toml" "${CARGO_HOME:-$HOME/.cargo}/config"; do
        if [ -f "$f" ] && grep -q "^\[target\.${target}\]" "$f"; then return 0; fi
    done
    return 1
}

linker_var="CARGO_TARGET_${TU}_LINKER"
rustflags_var="CARGO_TARGET_${TU}_RUSTFLAGS"
link_args=()
if isset "$linker_var"; then
    linker=$(getvar "$linker_var")
    note "using linker from \$${linker_var}: ${linker}"
elif [ -n "$user_cc" ]; then
    # Link with the same toolchain the C code was compiled with.
    linker=$cc_prog
    export "$linker_var=$linker"
    note "${linker_var}=${linker}"
    # shellcheck disable=SC2206  # LDFLAGS is a word list by convention
    link_args=("${cc_extra[@]}" ${LDFLAGS-})
    if [ ${#link_args[@]} -gt 0 ]; then
        flags=""
        for a in "${link_args[@]}"; do flags+=" -C link-arg=$a"; done
        if isset CARGO_ENCODED_RUSTFLAGS; then
            enc=$CARGO_ENCODED_RUSTFLAGS
            for a in "${link_args[@]}"; do enc+=$'\x1f'"-Clink-arg=$a"; done
            export CARGO_ENCODED_RUSTFLAGS="${enc#$'\x1f'}"
            note "appended link args to CARGO_ENCODED_RUSTFLAGS:${flags}"
        elif isset RUSTFLAGS; then
            export RUSTFLAGS="${RUSTFLAGS}${flags}"
            note "appended link args to RUSTFLAGS:${flags}"
        else
            prev=$(getvar "$rustflags_var")
            flags=${flags# }
            export "$rustflags_var=${prev:+$prev }${flags}"
            note "${rustflags_var}=$(getvar "$rustflags_var")"
        fi
    fi
else
    linker="${triple}-gcc"
    if cargo_config_has_target; then
        note "linker/runner defaults from .cargo/config.toml"
    else
        export "$linker_var=$linker"
        note "${linker_var}=${linker} (no .cargo/config.toml for ${target} here)"
    fi
fi

# -------------------------------------------------------------------- runner
# Which cargo subcommand? (skip +toolchain and leading options)
sub=""
for a in "$@"; do
    case "$a" in +*|-*) continue ;; *) sub=$a; break ;; esac
done
needs_runner=0
case "$sub" in test|t|run|r|bench|nextest) needs_runner=1 ;; esac
for a in "$@"; do
    [ "$a" = -- ] && break
    [ "$a" = --no-run ] && needs_runner=0
done

runner_var="CARGO_TARGET_${TU}_RUNNER"
if [ $needs_runner = 1 ]; then
    if isset "$runner_var"; then
        note "using runner from \$${runner_var}: $(getvar "$runner_var")"
    elif ! command -v "$qemu" >/dev/null 2>&1; then
        note "WARNING: $qemu not found (apt-get install qemu-user); tests can't run"
    else
        tmp=$(mktemp -d)
        cat >"$tmp/probe.rs" <<'RS'
fn main() {
    let v = std::thread::spawn(|| 40 + 2).join().unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    let unwound = std::thread::spawn(|| std::panic::catch_unwind(|| panic!("probe")).is_err())
        .join()
        .unwrap();
    assert!(unwound);
    println!("probe-ok {v}");
}
RS
        rargs=(--edition 2021 --target "$target" -C "linker=$linker" -o "$tmp/probe" "$tmp/probe.rs")
        for a in "${link_args[@]}"; do rargs+=(-C "link-arg=$a"); done
        if ! rustc "${rargs[@]}" >"$tmp/rustc.log" 2>&1; then
            note "WARNING: could not build the qemu probe (rustup target add $target?); keeping the configured runner"
            sed 's/^/    /' "$tmp/rustc.log" >&2 || true
        else
            candidates=()
            s=$("${cc_words[@]}" --print-sysroot 2>/dev/null || true)
            [ -n "$s" ] && candidates+=("$s")
            candidates+=("/usr/${triple}" "/")
            chosen=""
            tried=()
            for s in "${candidates[@]}"; do
                s=${s%/}; s=${s:-/}
                case " ${tried[*]-} " in *" $s "*) continue ;; esac
                tried+=("$s")
                if out=$(timeout 60 "$qemu" -L "$s" "$tmp/probe" 2>&1) && [ "$out" = "probe-ok 42" ]; then
                    chosen=$s; break
                fi
            done
            if [ -n "$chosen" ]; then
                export "$runner_var=$qemu -L $chosen"
                note "${runner_var}=$qemu -L $chosen"
            else
                note "WARNING: no qemu sysroot worked (tried: ${tried[*]}); keeping the configured runner"
            fi
        fi
        rm -rf "$tmp"
    fi
fi

# ---------------------------------------------------------------------- cargo
pre=()
post=()
seen_dd=0
for a in "$@"; do
    if [ $seen_dd = 0 ] && [ "$a" = -- ]; then seen_dd=1; continue; fi
    if [ $seen_dd = 0 ]; then pre+=("$a"); else post+=("$a"); fi
done
if [ $seen_dd = 1 ]; then
    set -- "${pre[@]}" --target "$target" -- "${post[@]}"
else
    set -- "${pre[@]}" --target "$target"
fi
note "cargo $*"
# pkg-config for the target's libraries (alsa-sys with --features alsa): the multiarch .pc files of
# e.g. libasound2-dev:armhf, unless the environment says otherwise.
if [ -d "/usr/lib/${triple}/pkgconfig" ]; then
    isset "PKG_CONFIG_ALLOW_CROSS_${tu}" || export "PKG_CONFIG_ALLOW_CROSS_${tu}=1"
    isset "PKG_CONFIG_LIBDIR_${tu}" || export "PKG_CONFIG_LIBDIR_${tu}=/usr/lib/${triple}/pkgconfig"
fi

exec cargo "$@"
