#!/usr/bin/env python3
"""Fails when a test that docs/compliance.md names no longer exists.

Every backticked name in the table's last column must be defined as a Rust test function
(`fn NAME`) somewhere under crates/. Run from the repository root; exit 1 lists the missing ones.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
doc = (root / "docs" / "compliance.md").read_text(encoding="utf-8")
named = set()
for line in doc.splitlines():
    if line.startswith("|") and not line.startswith("|---") and not line.startswith("| requirement"):
        cells = [c.strip() for c in line.strip("|").split("|")]
        named.update(re.findall(r"`([a-z0-9_]+)`", cells[-1]))
defined = set()
for path in (root / "crates").rglob("*.rs"):
    defined.update(re.findall(r"\bfn ([a-z0-9_]+)\s*[<(]", path.read_text(encoding="utf-8")))
missing = sorted(named - defined)
if not named:
    print("docs/compliance.md names no tests", file=sys.stderr)
    sys.exit(1)
if missing:
    print("docs/compliance.md names tests that do not exist:", file=sys.stderr)
    for m in missing:
        print(f"  {m}", file=sys.stderr)
    sys.exit(1)
print(f"docs/compliance.md: {len(named)} tests named, all defined")
