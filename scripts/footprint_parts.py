#!/usr/bin/env python3
"""Helpers for scripts/footprint.sh (measurements only, nothing estimated).

  footprint_parts.py parts MAP SO [--readelf R] [--cxxfilt C] [--lib NAME=ARCHIVE.a ...] [--top N]
      What each part contributes to a linked libavs.so: every input section the GNU ld map file
      (-Wl,-Map=...) placed in an allocated output section is summed by where it came from:
      C objects by their archive member (mbedTLS objects are sorted into libmbedcrypto /
      libmbedx509 / libmbedtls by the members of the archives given with --lib), Rust code by
      symbol: fat LTO merges every Rust crate into one object, but -ffunction-sections keeps one
      section per function (`.text.<mangled name>`), so the demangled name says which crate it
      belongs to. Output sections are counted as `size` (Berkeley) counts them, using the section
      flags of the linked SO: text = allocated read-only, data = allocated writable, bss = NOBITS.

  footprint_parts.py isa SO [--readelf R]
      Thumb vs ARM code in an ARM ELF: sums the sizes of FUNC symbols by the low bit of their
      address (set = Thumb), from the unstripped symbol table.

  footprint_parts.py massif MASSIF_OUT [--top N]
      Peak of a massif profile (mem_heap_B + mem_heap_extra_B), useful bytes, and the heap at the
      peak by the library that asked for it (walking each allocation's stack from the allocator
      outwards to the first frame that belongs to a known part).
"""
import argparse
import collections
import re
import subprocess
import sys

# ----------------------------------------------------------------------------- groups

G_AVS = "avs (Rust: C API, client, transport, audio)"
G_CORE = "avs-core (Rust, no_std protocol core)"
G_CORE_DEPS = "heapless / serde-json-core / serde / memchr / ryu (Rust)"
G_MBED_RS = "mbedtls Rust crate (+ yasna, num-bigint)"
G_MBED_SHIM = "mbedtls crate C shims (librust-mbedtls*.a)"
G_CRYPTO = "mbedTLS libmbedcrypto (C)"
G_X509 = "mbedTLS libmbedx509 (C)"
G_TLS = "mbedTLS libmbedtls (C)"
G_NGHTTP2 = "nghttp2 (C, libnghttp2-sys)"
G_ALSA_RS = "alsa crate (Rust; libasound is a shared lib)"
G_MP3 = "minimp3 (C, via rmp3)"
G_STD = "Rust std / alloc / core (+ compiler-builtins)"
G_BT = "Rust std: backtrace printing (gimli/addr2line/object/miniz_oxide/demangle)"
G_OTHER_RS = "other Rust deps (libc, bitflags, cfg-if, ...)"
G_ANON = "Rust anonymous constants (strings, panic locations, vtables)"
G_RS_UNK = "Rust, unattributed"
G_RT = "toolchain runtime (crt*.o, libgcc, libc_nonshared)"
G_DYN = "ELF dynamic linking tables (.dynsym/.dynstr/.rel.dyn/.plt/.got/...)"
G_LINKER = "linker: padding, stubs, unwind-table merging (+/-)"

ORDER = [G_AVS, G_CORE, G_CORE_DEPS, G_MBED_RS, G_MBED_SHIM, G_CRYPTO, G_X509, G_TLS, G_NGHTTP2,
         G_ALSA_RS, G_MP3, G_STD, G_BT, G_OTHER_RS, G_ANON, G_RS_UNK, G_RT, G_DYN, G_LINKER]

CRATE_GROUP = {
    "avs": G_AVS,
    "avs_core": G_CORE,
    **{c: G_CORE_DEPS for c in ("heapless", "serde_json_core", "serde", "serde_core", "memchr", "ryu",
                                "hash32", "byteorder", "stable_deref_trait")},
    **{c: G_MBED_RS for c in ("mbedtls", "mbedtls_platform_support", "mbedtls_sys", "yasna", "num_bigint",
                              "num_integer", "num_traits", "bit_vec")},
    **{c: G_ALSA_RS for c in ("alsa", "alsa_sys", "rmp3")},
    **{c: G_OTHER_RS for c in ("libc", "bitflags", "cfg_if", "libnghttp2_sys")},
}
STD_CRATES = {"core", "alloc", "std", "std_detect", "panic_unwind", "panic_abort", "unwind", "hashbrown",
              "compiler_builtins", "rustc_std_workspace_core", "rustc_std_workspace_alloc"}
BT_CRATES = {"addr2line", "gimli", "object", "miniz_oxide", "adler2", "adler", "rustc_demangle"}

DYN_SECTIONS = {".dynsym", ".dynstr", ".gnu.hash", ".hash", ".gnu.version", ".gnu.version_r", ".gnu.version_d",
                ".rel.dyn", ".rela.dyn", ".rel.plt", ".rela.plt", ".plt", ".got", ".got.plt", ".dynamic",
                ".note.gnu.build-id", ".interp", ".plt.got", ".plt.sec", ".relr.dyn"}

PATH_START = re.compile(r"(?:^|[<\s(\[&*,;])([A-Za-z_][A-Za-z0-9_]*)::")


def crate_group(demangled):
    """The group of a demangled Rust symbol: the first non-std crate named in it (generic std code
    instantiated for a crate's types counts for that crate), else backtrace support or std."""
    crates = PATH_START.findall(demangled)
    # (std::sys::backtrace::__rust_{begin,end}_short_backtrace are the thread/panic trampolines: not printing)
    if re.search(r"\bstd::(backtrace_rs|backtrace|sys::backtrace)::(?!__rust_(begin|end)_short_backtrace)", demangled) \
            and not any(c in CRATE_GROUP for c in crates):
        return G_BT
    for c in crates:
        if c in CRATE_GROUP:
            return CRATE_GROUP[c]
    if any(c in BT_CRATES for c in crates):
        return G_BT
    if any(c in STD_CRATES for c in crates):
        return G_STD
    return None


def unmangled_group(name):
    if name.startswith("avs_"):
        return G_AVS
    if "mbedtls" in name:
        return G_MBED_RS
    if name.startswith(("rust_", "__rust", "__rdl_", "__rg_", "_Unwind", "__aeabi", "__udiv", "__div")):
        return G_STD
    return None


def demangle_all(names, cxxfilt):
    if not names:
        return []
    try:
        out = subprocess.run([cxxfilt], input="\n".join(names) + "\n", capture_output=True, text=True,
                             check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return list(names)
    res = []
    for n, d in zip(names, out):
        d = re.sub(r"\[[0-9a-f]+\]", "", d)           # v0 crate disambiguators
        d = re.sub(r"::h[0-9a-f]{16}$", "", d)          # legacy hashes
        res.append(d)
    return res


# ----------------------------------------------------------------------------- map parsing

def parse_map(path):
    """Yields (output_section, input_section, size, file) for every input section in the memory map
    (and ('*fill*') padding)."""
    text = open(path, encoding="utf-8", errors="replace").read().split("\n")
    try:
        start = next(i for i, l in enumerate(text) if l.startswith("Linker script and memory map"))
    except StopIteration:
        sys.exit(f"{path}: not a GNU ld map file")
    out = None
    pending = None
    hexnum = r"0x[0-9a-fA-F]+"
    for line in text[start + 1:]:
        if not line.strip():
            continue
        if not line[0].isspace():
            tok = line.split()[0]
            if tok.startswith("."):
                out = tok
            elif tok in ("LOAD", "START", "END", "OUTPUT", "OUTPUT_FORMAT"):
                continue
            else:
                out = None
            pending = None
            continue
        if out is None:
            continue
        m = re.match(rf"^ (\*fill\*)\s+({hexnum})\s+({hexnum})", line)
        if m:
            yield out, "*fill*", int(m.group(3), 16), ""
            continue
        if line.startswith(" *"):
            continue  # input section patterns
        m = re.match(rf"^ (\S+)\s+({hexnum})\s+({hexnum})\s*(.*)$", line)
        if m:
            pending = None
            yield out, m.group(1), int(m.group(3), 16), m.group(4).strip()
            continue
        m = re.match(r"^ (\S+)$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(rf"^\s+({hexnum})\s+({hexnum})\s*(.*)$", line)
        if m and pending is not None:
            yield out, pending, int(m.group(2), 16), m.group(3).strip()
            pending = None
            continue
        # symbol assignment lines etc.


def section_table(so, readelf):
    """{name: (size, kind)} with kind text/data/bss/None as Berkeley `size` counts them."""
    out = subprocess.run([readelf, "-SW", so], capture_output=True, text=True, check=True).stdout
    secs = {}
    for line in out.split("\n"):
        m = re.match(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s", line)
        if not m:
            continue
        name, typ, size, flags = m.group(1), m.group(2), int(m.group(3), 16), m.group(4)
        kind = None
        if "A" in flags:
            if typ == "NOBITS":
                kind = "bss"
            elif "W" in flags:
                kind = "data"
            else:
                kind = "text"
        secs[name] = (size, kind)
    return secs


def member_of(f):
    m = re.match(r"^(.*)\(([^)]*)\)$", f)
    return (m.group(1), m.group(2)) if m else (f, None)


def archive_members(ar, archive):
    try:
        out = subprocess.run([ar, "t", archive], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {x.strip() for x in out.split("\n") if x.strip()}


def mbed_group_by_name(member):
    base = member.split("-")[-1]
    if base.startswith(("ssl_", "debug.", "net_sockets.")):
        return G_TLS
    if base.startswith(("x509", "certs.", "pkcs11.")):
        return G_X509
    return G_CRYPTO


SEC_PREFIX = re.compile(r"^\.(?:ARM\.exidx\.|ARM\.extab\.)?(?:text|rodata|data\.rel\.ro\.local|data\.rel\.ro|data\.rel|"
                        r"data|bss|tbss|tdata|gcc_except_table)(?:\.unlikely|\.hot|\.startup|\.exit)?\.")


def cmd_parts(a):
    secs = section_table(a.so, a.readelf)
    lib_members = {}
    for spec in a.lib or []:
        name, _, path = spec.partition("=")
        group = {"mbedcrypto": G_CRYPTO, "mbedx509": G_X509, "mbedtls": G_TLS}.get(name)
        if group:
            for m in archive_members(a.ar, path):
                lib_members[m] = group

    rows = collections.defaultdict(lambda: collections.Counter())   # group -> kind -> bytes
    attributed = collections.Counter()                               # output section -> bytes
    objects = collections.Counter()                                  # (group, member) -> text bytes
    rust_syms = []                                                   # (raw name, out, size)
    for out, name, size, f in parse_map(a.map):
        if out not in secs or size == 0:
            continue
        kind = secs[out][1]
        if kind is None:
            continue
        if out in DYN_SECTIONS:
            continue  # whole output section counted below
        attributed[out] += size
        if name == "*fill*":
            rows[G_LINKER][kind] += size
            continue
        archive, member = member_of(f)
        base = archive.rsplit("/", 1)[-1]
        group = None
        if f == "linker stubs" or not f:
            group = G_LINKER
        elif base.endswith(".rcgu.o") or (base.endswith(".o") and ".rcgu." in base):
            rust_syms.append((name, out, size, kind))
            continue
        elif member is not None and "nghttp2" in base:
            group = G_NGHTTP2
        elif member is not None and ("minimp3" in member or "rmp3" in base):
            group = G_MP3
        elif member is not None and "compiler_builtins" in base:
            group = G_STD
        elif member is not None and re.search(r"rust[-_]mbedtls", base):
            group = G_MBED_SHIM
        elif member is not None and ("mbedtls" in base or "mbedcrypto" in base or "mbedx509" in base):
            if member in lib_members:
                group = lib_members[member]
            elif re.search(r"rust[-_]mbedtls|mbedtls_platform_support|mbedtls[-_]sys|mbedtls-", base) and \
                    not member.endswith(".c.o"):
                group = G_MBED_SHIM
            else:
                group = mbed_group_by_name(member)
        elif re.search(r"crt[a-zA-Z]*\.o$|libgcc|libc_nonshared|libdl\.a|libpthread\.a|librt\.a|libutil\.a", base):
            group = G_RT
        elif member is not None:
            group = f"C: {base}"
        else:
            group = f"other: {base}"
        rows[group][kind] += size
        if kind == "text":
            objects[(group, member or base)] += size

    # Rust: by symbol
    raw = []
    for name, out, size, kind in rust_syms:
        n = SEC_PREFIX.sub("", name, count=1)
        n = re.sub(r"^\.Lswitch\.table\.", "", n)
        raw.append(n)
    dem = demangle_all(raw, a.cxxfilt)
    rust_top = collections.Counter()
    for (name, out, size, kind), n, d in zip(rust_syms, raw, dem):
        if n.startswith((".Lanon.", ".L__unnamed", "..L")) or re.match(r"^(str|cst)\d", n) or n in ("", ".rodata", ".text", ".data", ".bss") \
                or name in (".rodata", ".data", ".bss", ".text", ".data.rel.ro"):
            g = G_ANON
        elif n.startswith(("_R", "_ZN")):
            g = crate_group(d) or G_RS_UNK
        else:
            g = unmangled_group(n) or G_RS_UNK
        rows[g][kind] += size
        if kind == "text":
            rust_top[(g, d if n.startswith(("_R", "_ZN")) else n)] += size

    # whole sections the linker builds, and the rest of each output section
    for out, (size, kind) in secs.items():
        if kind is None:
            continue
        if out in DYN_SECTIONS:
            rows[G_DYN][kind] += size
        else:
            diff = size - attributed.get(out, 0)
            if diff:
                rows[G_LINKER][kind] += diff

    total = collections.Counter()
    for g in rows:
        total.update(rows[g])
    t_text = total["text"] or 1
    groups = [g for g in ORDER if g in rows] + sorted(g for g in rows if g not in ORDER)
    w = max(len(g) for g in groups + ["total"]) + 2
    if not a.brief:
        print(f"  {'part':<{w}} {'text B':>9} {'text KB':>8} {'text %':>7} {'data B':>8} {'bss B':>7}")
    for g in groups:
        r = rows[g]
        if a.brief or not (r["text"] or r["data"] or r["bss"]):
            continue
        print(f"  {g:<{w}} {r['text']:>9} {r['text'] / 1024:>8.1f} {100 * r['text'] / t_text:>6.1f}% {r['data']:>8} {r['bss']:>7}")
    if not a.brief:
        print(f"  {'total (= size(1) of the .so)':<{w}} {total['text']:>9} {total['text'] / 1024:>8.1f} {100.0:>6.1f}% {total['data']:>8} {total['bss']:>7}")

    # roll-up the brief asks for
    def s(*gs):
        return sum(rows[g]["text"] for g in gs if g in rows)
    mbed = s(G_CRYPTO, G_X509, G_TLS, G_MBED_SHIM, G_MBED_RS)
    rust_std = s(G_STD, G_BT)
    core = s(G_AVS, G_CORE, G_CORE_DEPS)
    print("  roll-up (text): "
          f"avs Rust code (avs + avs-core + its deps) {core / 1024:.1f} KB ({100 * core / t_text:.0f}%), "
          f"mbedTLS (C + Rust wrapper) {mbed / 1024:.1f} KB ({100 * mbed / t_text:.0f}%), "
          f"nghttp2 {s(G_NGHTTP2) / 1024:.1f} KB ({100 * s(G_NGHTTP2) / t_text:.0f}%), "
          f"Rust std/alloc/core {rust_std / 1024:.1f} KB ({100 * rust_std / t_text:.0f}%; of it backtrace printing {s(G_BT) / 1024:.1f} KB)"
          + (f", ALSA + minimp3 {s(G_ALSA_RS, G_MP3) / 1024:.1f} KB ({100 * s(G_ALSA_RS, G_MP3) / t_text:.0f}%)"
             if s(G_ALSA_RS, G_MP3) else "")
          + f", anonymous Rust constants {s(G_ANON) / 1024:.1f} KB, ELF dynamic tables {s(G_DYN) / 1024:.1f} KB")

    if a.top:
        mb = collections.Counter()
        for (g, m), v in objects.items():
            if g in (G_CRYPTO, G_X509, G_TLS):
                mb[m.split("-")[-1]] += v
        print(f"  largest mbedTLS objects (text B): " + ", ".join(f"{m.replace('.c.o', '')} {v}" for m, v in mb.most_common(a.top)))
        ng = collections.Counter()
        for (g, m), v in objects.items():
            if g == G_NGHTTP2:
                ng[m.split("-", 1)[-1]] += v
        print(f"  largest nghttp2 objects (text B): " + ", ".join(f"{m.replace('.o', '')} {v}" for m, v in ng.most_common(min(a.top, 6))))
        for g in (() if a.brief else (G_AVS, G_CORE, G_STD, G_BT)):
            syms = [(v, n) for (gg, n), v in rust_top.items() if gg == g]
            if not syms:
                continue
            syms.sort(reverse=True)
            print(f"  largest in {g.split(' (')[0]}: " + ", ".join(f"{n[:70]} {v}" for v, n in syms[:min(a.top, 6)]))


# ----------------------------------------------------------------------------- isa

def cmd_isa(a):
    out = subprocess.run([a.readelf, "-sW", a.so], capture_output=True, text=True, check=True).stdout
    thumb = arm = nt = na = 0
    seen = set()
    for line in out.split("\n"):
        p = line.split()
        if len(p) < 8 or p[3] != "FUNC" or p[6] == "UND":
            continue
        try:
            val, size = int(p[1], 16), int(p[2], 0)
        except ValueError:
            continue
        if val in seen or size == 0:
            continue
        seen.add(val)
        if val & 1:
            thumb += size
            nt += 1
        else:
            arm += size
            na += 1
    print(f"{thumb} {nt} {arm} {na}")


# ----------------------------------------------------------------------------- massif

M_CATS = [
    ("mbedTLS (TLS session buffers, handshake, parsed CA certificates)", re.compile(r"\bmbedtls_|\bmbedtls::|mbedtls_platform_support")),
    ("nghttp2", re.compile(r"\bnghttp2_")),
    ("minimp3 / ALSA", re.compile(r"\bmp3dec|\bsnd_|\balsa::|rmp3::")),
    ("avs Rust core (client buffers, event queue, audio ring, nghttp2 pool)", re.compile(r"\bavs::|\bavs_core::|\bavs_[a-z_]+ \(")),
]
GENERIC = re.compile(r"\b(alloc|core|std)::|__rust_|__rdl_|__rg_|\bmalloc\b|\bcalloc\b|\brealloc\b|"
                     r"h2::mem::|transport::pool::|forward_mbedtls_calloc|mbedtls_platform_support::|"
                     r"\(heap allocation functions\)")
APP = "the C example + libc (WAV file buffer, stdio, dlopen, ...)"


def parse_massif(path):
    snaps = []
    cur = None
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith("snapshot="):
            cur = {"heap": 0, "extra": 0, "stacks": 0, "time": 0, "tree": None, "kind": "empty"}
            snaps.append(cur)
        elif cur is not None and l.startswith("time="):
            cur["time"] = int(l[5:])
        elif cur is not None and l.startswith("mem_heap_B="):
            cur["heap"] = int(l.split("=")[1])
        elif cur is not None and l.startswith("mem_heap_extra_B="):
            cur["extra"] = int(l.split("=")[1])
        elif cur is not None and l.startswith("mem_stacks_B="):
            cur["stacks"] = int(l.split("=")[1])
        elif cur is not None and l.startswith("heap_tree="):
            cur["kind"] = l.split("=")[1]
            if cur["kind"] in ("detailed", "peak"):
                tree, i = parse_tree(lines, i + 1)
                cur["tree"] = tree
                continue
        i += 1
    return snaps


def parse_tree(lines, i):
    """massif tree: 'n<k>: <bytes> <fn>' lines, children indented by one space."""
    def node(i, depth):
        m = re.match(r"^( *)n(\d+): (\d+) (.*)$", lines[i])
        if not m:
            raise ValueError(f"bad massif tree line {i}: {lines[i]!r}")
        kids = int(m.group(2))
        n = {"bytes": int(m.group(3)), "fn": m.group(4), "kids": []}
        i += 1
        for _ in range(kids):
            c, i = node(i, depth + 1)
            n["kids"].append(c)
        return n, i
    return node(i, 0)


def site_label(fn):
    m = re.match(r"^(0x[0-9A-Fa-f]+): (.*?)(?: \((?:in )?[^()]*\))?$", fn)
    if not m:
        return fn
    addr, name = m.group(1), m.group(2)
    return f"{name} @{addr}" if "{{closure}}" in name or "{closure" in name else name


def classify(tree, sites=None):
    """Bytes per category: walk from the allocator towards main; the first frame that is not a
    generic allocation wrapper decides. With `sites`, also bytes per (category, deciding frame)."""
    res = collections.Counter()

    def walk(n, top):
        fn = n["fn"]
        if not top:
            for cat, rx in M_CATS:
                if rx.search(fn):
                    res[cat] += n["bytes"]
                    if sites is not None:
                        sites[(cat, site_label(fn))] += n["bytes"]
                    return
            if not GENERIC.search(fn):
                cat = APP if not fn.startswith("in ") else "below massif's threshold"
                res[cat] += n["bytes"]
                if sites is not None:
                    sites[(cat, site_label(fn))] += n["bytes"]
                return
        kids_sum = sum(k["bytes"] for k in n["kids"])
        for k in n["kids"]:
            walk(k, False)
        if n["bytes"] > kids_sum and not top:
            res["allocation wrappers (unattributed)"] += n["bytes"] - kids_sum
    walk(tree, True)
    return res


def cmd_massif(a):
    snaps = parse_massif(a.massif)
    if not snaps:
        sys.exit("no snapshots")
    tot = [s["heap"] + s["extra"] for s in snaps]
    pk = max(range(len(snaps)), key=lambda k: tot[k])
    p = snaps[pk]
    print(f"  peak heap (mem_heap_B + mem_heap_extra_B, max over {len(snaps)} snapshots): {tot[pk]} B = {tot[pk] / 1024:.1f} KB"
          f" (useful {p['heap']} B, allocator overhead {p['extra']} B)")
    print(f"  largest useful heap in any snapshot: {max(s['heap'] for s in snaps)} B")
    # the per-part breakdown at every detailed snapshot: library-only peak
    best = None
    for s in snaps:
        if s["tree"] is None:
            continue
        c = classify(s["tree"])
        lib = sum(v for k, v in c.items() if k != APP)
        if best is None or lib > best[0]:
            best = (lib, s, c)
    pt = next((s for s in snaps if s["kind"] == "peak"), None) or (p if p["tree"] else None)
    if pt is not None:
        c = classify(pt["tree"])
        print(f"  at massif's peak snapshot (useful bytes {pt['heap']}), by who asked (stack walked from the allocator outwards):")
        for k, v in c.most_common():
            print(f"    {v:>9} B  {v / 1024:7.1f} KB  {k}")
    if best is not None:
        lib, s, c = best
        print(f"  library-only heap (everything but the C example's own and libc's allocations), max over detailed snapshots: "
              f"{lib} B = {lib / 1024:.1f} KB (useful bytes, snapshot at t={s['time']}):")
        for k, v in c.most_common():
            if k != APP:
                print(f"    {v:>9} B  {v / 1024:7.1f} KB  {k}")
        sites = collections.Counter()
        classify(s["tree"], sites)
        named = {}
        if a.header:
            txt = open(a.header, encoding="utf-8", errors="replace").read()
            for m in re.finditer(r"/\*\*((?:(?!\*/).)*)\*/\s*uint32_t (\w+_bytes);", txt, re.S):
                d = re.search(r"\(default (\d+)", m.group(1))
                if d:
                    named[m.group(2)] = int(d.group(1))
        for spec in a.defaults or []:
            name, _, val = spec.partition("=")
            named[name] = int(val)
        defaults = {}
        for name, val in named.items():
            defaults.setdefault(val, []).append(name)
        print(f"  largest allocation sites in that snapshot (first frame past the allocation wrappers; "
              f"'= x' marks a size equal to that avs_config field's value):")
        for (cat, site), v in sites.most_common(a.top):
            if cat == APP:
                continue
            ann = f"  = {'/'.join(defaults[v])}" if v in defaults else ""
            print(f"    {v:>9} B  {site[:90]}{ann}")
        print(f"LIBPEAK {lib}")
    print(f"PEAK {tot[pk]} {p['heap']}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parts")
    p.add_argument("map")
    p.add_argument("so")
    p.add_argument("--readelf", default="readelf")
    p.add_argument("--ar", default="ar")
    p.add_argument("--cxxfilt", default="c++filt")
    p.add_argument("--lib", action="append")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--brief", action="store_true", help="only the roll-up and the largest objects")
    p = sub.add_parser("isa")
    p.add_argument("so")
    p.add_argument("--readelf", default="readelf")
    p = sub.add_parser("massif")
    p.add_argument("massif")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--header", help="avs.h: take the (default N) of its uint32_t *_bytes fields")
    p.add_argument("--defaults", action="append", help="NAME=BYTES: a field's value (overrides --header)")
    a = ap.parse_args()
    {"parts": cmd_parts, "isa": cmd_isa, "massif": cmd_massif}[a.cmd](a)


if __name__ == "__main__":
    main()
