"""Test PKI for the AVS emulator, made with the openssl CLI.

All certificates are signed with `openssl ca` because it is the only openssl
3.0 command that can set arbitrary validity dates (needed for `expired`); it
also gives every certificate a start date one day in the past, so clock skew
between processes never makes a fresh certificate "not yet valid".

Extensions are the ones mbedTLS 2.28 checks: CA certificates carry
basicConstraints CA:TRUE and keyUsage keyCertSign; server certificates carry
SAN, serverAuth EKU, digitalSignature and key identifiers.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import secrets
import subprocess
import sys
import tempfile

# Clients that connect by address match the iPAddress entries (avs does that
# itself: mbedTLS 2.28 matches dNSName entries only). `*.avs.test` is for tests
# that resolve names of their own under it.
_SAN_LOCAL = "DNS:localhost, DNS:*.avs.test, IP:127.0.0.1, IP:::1"

# name -> (issuer or None for a self-signed CA, subject CN, SAN or None, expired?)
# A leaf with SAN None has no subjectAltName extension at all.
CERTS: dict[str, tuple[str | None, str, str | None, bool]] = {
    "ca": (None, "AVS Emulator Test Root CA", None, False),
    "other-ca": (None, "Unrelated Test Root CA", None, False),
    "server": ("ca", "localhost", _SAN_LOCAL, False),
    "wronghost": ("ca", "wrong.example", "DNS:wrong.example", False),
    "expired": ("ca", "localhost", _SAN_LOCAL, True),
    # For endpoints given as IP addresses: only an iPAddress SAN may match them.
    "ip-only": ("ca", "IP-only test server", "IP:127.0.0.1, IP:::1", False),
    "ip-as-dns": ("ca", "IP-as-DNS test server", "DNS:127.0.0.1", False),
    "ip-cn": ("ca", "127.0.0.1", None, False),
}

_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
preserve = no
[policy_any]
organizationName = optional
commonName = supplied
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, {key_usage}
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
{san_line}
"""


def _run(args: list[str]) -> None:
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {p.stderr.strip()}")


def _ts(t: _dt.datetime) -> str:
    return t.strftime("%Y%m%d%H%M%SZ")


def _make(dirpath: str, name: str, key_type: str) -> None:
    issuer, cn, san, expired = CERTS[name]
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec"
              else ["-newkey", "rsa:2048"])
    key_usage = "digitalSignature" if key_type == "ec" else "digitalSignature, keyEncipherment"
    now = _dt.datetime.now(_dt.timezone.utc)
    if expired:
        start, end = "20200101000000Z", "20200102000000Z"
    else:
        start = _ts(now - _dt.timedelta(days=1))
        end = _ts(now + _dt.timedelta(days=3650 if issuer is None else 825))
    with tempfile.TemporaryDirectory() as tmp:
        # A fresh throw-away CA database per certificate keeps this stateless.
        open(os.path.join(tmp, "index.txt"), "w").close()
        with open(os.path.join(tmp, "serial"), "w") as f:
            f.write("%032x\n" % (secrets.randbits(126) | (1 << 125)))
        cnf = os.path.join(tmp, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(_CONFIG.format(db=tmp, key_usage=key_usage,
                                  san_line=f"subjectAltName = {san}" if san else ""))
        key_tmp, csr, pem_tmp = (os.path.join(tmp, n) for n in ("k.pem", "r.csr", "c.pem"))
        _run(["openssl", "req", "-new", *newkey, "-nodes", "-keyout", key_tmp,
              "-subj", f"/O=avs emulator/CN={cn}", "-out", csr])
        sign = ["openssl", "ca", "-batch", "-notext", "-config", cnf, "-in", csr, "-out", pem_tmp,
                "-startdate", start, "-enddate", end]
        if issuer is None:
            sign += ["-selfsign", "-keyfile", key_tmp, "-extensions", "v3_ca"]
        else:
            sign += ["-cert", os.path.join(dirpath, f"{issuer}.pem"),
                     "-keyfile", os.path.join(dirpath, f"{issuer}.key"), "-extensions", "v3_server"]
        _run(sign)
        os.chmod(key_tmp, 0o600)
        # Replace atomically so a reader never sees half a file.
        os.replace(key_tmp, os.path.join(dirpath, f"{name}.key"))
        os.replace(pem_tmp, os.path.join(dirpath, f"{name}.pem"))
    with open(os.path.join(dirpath, f"{name}.spec"), "w") as f:
        f.write(_spec(name))


def _spec(name: str) -> str:
    """What a certificate was made from (not the key type): a leaf whose entry changed is re-issued."""
    return repr(CERTS[name]) + "\n"


def _current(dirpath: str, name: str) -> bool:
    if not all(os.path.exists(os.path.join(dirpath, f"{name}{ext}")) for ext in (".pem", ".key")):
        return False
    if CERTS[name][0] is None:
        # A CA is kept as long as its files exist: re-making it would re-issue every leaf.
        return True
    try:
        with open(os.path.join(dirpath, f"{name}.spec")) as f:
            return f.read() == _spec(name)
    except OSError:
        return False


def gen_certs(dirpath: str, key_type: str = "rsa", force: bool = False) -> list[str]:
    """Create the missing certificates in dirpath; returns the names (re)generated.

    Idempotent: existing pairs are kept, except that leaves are re-issued when
    their CA was (re)generated or their entry in CERTS changed (NAME.spec records
    it; the key type of existing files is kept). A lock file serialises concurrent callers.
    """
    os.makedirs(dirpath, exist_ok=True)
    made: list[str] = []
    with open(os.path.join(dirpath, ".gen-certs.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name, (issuer, _cn, _san, _exp) in CERTS.items():
            if force or not _current(dirpath, name) or (issuer is not None and issuer in made):
                _make(dirpath, name, key_type)
                made.append(name)
    return made


def main(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="avs_server.py gen-certs")
    ap.add_argument("dir")
    ap.add_argument("--key-type", choices=["ec", "rsa"], default="rsa",
                    help="rsa = RSA 2048 (default: what AVS serves, and cheap for mbedTLS to verify); ec = P-256")
    ap.add_argument("--force", action="store_true", help="regenerate everything")
    a = ap.parse_args(argv)
    made = gen_certs(a.dir, a.key_type, a.force)
    print(f"gen-certs: {a.dir}: generated {', '.join(made) if made else 'nothing (all present)'}",
          file=sys.stderr)
    return 0
