#!/usr/bin/env python3
"""Scans what a test run left behind for card data written out (PCI DSS 3.3, 3.5).

    scripts/pci_scan.py [--wal-since LSN --pg-url URL] PATH...

Every regular file under each PATH (logs, leftovers), and with --wal-since the PostgreSQL
write-ahead log the run wrote (every segment from the one holding LSN to the current one):
every row any test inserted into any database, including databases dropped since, passes
through it in the clear. Finds a Luhn-valid run of 13 - 19 digits standing alone (no letter or
digit around it) and `cvv`/`cvc`/`csc` written with 3 or 4 digits after it: the rules of
e2e/lib/pci.mjs and the server tests' common/pci.rs. Exits 1 listing what it found (masked),
2 when it could not read what it was asked to scan.
"""

import argparse
import os
import re
import subprocess
import sys

PAN = re.compile(rb"(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])")
CVV = re.compile(rb"(?i)(?:cvv|cvc|csc)[\"':= ]{0,6}[0-9]{3,4}(?![0-9A-Za-z])")
CHUNK = 8 << 20
OVERLAP = 64


def luhn(digits: bytes) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = c - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def masked(found: bytes) -> str:
    text = found.decode("latin1")
    digits = re.sub(r"[^0-9]", "", text)
    return text[:6] + "…" + digits[-4:] if len(digits) >= 13 else re.sub(r"[0-9]", "•", text)


def scan_file(path: str) -> list:
    hits = []
    with open(path, "rb") as f:
        offset, tail = 0, b""
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            data = tail + block
            base = offset - len(tail)
            for rx, is_pan in ((PAN, True), (CVV, False)):
                for m in rx.finditer(data):
                    # A match wholly inside the overlap was seen with the previous block.
                    if m.end() <= len(tail):
                        continue
                    if is_pan and not luhn(m.group(0)):
                        continue
                    hits.append((path, base + m.start(), masked(m.group(0))))
            tail = data[-OVERLAP:]
            offset += len(block)
    return hits


def files_under(path: str):
    if os.path.isfile(path):
        yield path
        return
    for root, _dirs, names in os.walk(path):
        for n in sorted(names):
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p


def psql(url: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", url, "-Atc", sql], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def wal_segments(url: str, since: str) -> tuple:
    """The segment files from the one holding `since` to the current one, and how many of
    them are gone (recycled before the scan)."""
    data_dir = psql(url, "SHOW data_directory")
    first = psql(url, f"SELECT pg_walfile_name('{since}'::pg_lsn)")
    last = psql(url, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    wal = os.path.join(data_dir, "pg_wal")
    names = sorted(
        n for n in os.listdir(wal) if len(n) == 24 and all(c in "0123456789ABCDEF" for c in n)
    )
    wanted = [n for n in names if first <= n <= last]
    # Segment names are timeline, then log and segment numbers: count the ones in between.
    def number(n: str) -> int:
        return int(n[8:16], 16) * 0x100 + int(n[16:24], 16)

    expected = number(last) - number(first) + 1
    return [os.path.join(wal, n) for n in wanted], expected - len(wanted)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--wal-since", help="the LSN at the start of the run")
    ap.add_argument("--pg-url", help="the PostgreSQL the run used")
    args = ap.parse_args()
    files = [f for p in args.paths if os.path.exists(p) for f in files_under(p)]
    if args.wal_since:
        if not args.pg_url:
            print("pci_scan: --wal-since needs --pg-url", file=sys.stderr)
            return 2
        try:
            segments, missing = wal_segments(args.pg_url, args.wal_since)
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"pci_scan: cannot read the write-ahead log: {e}", file=sys.stderr)
            return 2
        print(f"pci_scan: {len(segments)} WAL segments since {args.wal_since}"
              + (f" ({missing} recycled before the scan: not scanned)" if missing else ""))
        files += segments
    hits, size = [], 0
    for f in files:
        try:
            size += os.path.getsize(f)
            hits += scan_file(f)
        except OSError as e:
            print(f"pci_scan: cannot read {f}: {e}", file=sys.stderr)
            return 2
    print(f"pci_scan: {len(files)} files, {size / 1e6:.1f} MB scanned")
    for path, at, what in hits[:50]:
        print(f"pci_scan: {path} at byte {at}: {what}", file=sys.stderr)
    if hits:
        print(f"pci_scan: {len(hits)} card numbers or security codes written out", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
