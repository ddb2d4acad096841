#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM (JSON) of what the `shonin` binary is built from, out of the lock file.

Reads `cargo metadata --locked` for the build platform and walks the dependency graph from
`shonin-server` through normal and build dependencies only (dev-dependencies and other
platforms' crates are not in the binary). Every component gets its package URL
(`pkg:cargo/NAME@VERSION`), its licence expression as the crate declares it, and, for crates
from crates.io, the SHA-256 of the `.crate` file that Cargo.lock pins. The workspace's own crates
are listed with their path instead of a hash.

Usage: scripts/sbom.py [--out FILE] [--check]
  --check  also fail (exit 1) if a component has no licence or a registry crate no hash.
"""
import argparse
import datetime
import json
import subprocess
import sys
import tomllib
import uuid

ROOT_PACKAGE = "shonin-server"


def metadata():
    host = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    triple = next(l.split(": ", 1)[1] for l in host.splitlines() if l.startswith("host: "))
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", triple],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out), triple


def lock_checksums():
    with open("Cargo.lock", "rb") as f:
        lock = tomllib.load(f)
    return {(p["name"], p["version"]): p["checksum"] for p in lock["package"] if "checksum" in p}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    meta, triple = metadata()
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == ROOT_PACKAGE)
    # The binary's closure: normal and build dependencies, never dev.
    seen, stack, edges = set(), [root], {}
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        deps = [
            d["pkg"] for d in nodes[pid]["deps"]
            if any(k["kind"] in (None, "build") for k in d["dep_kinds"])
        ]
        edges[pid] = sorted(set(deps))
        stack.extend(deps)
    sums = lock_checksums()
    purl = lambda p: f"pkg:cargo/{p['name']}@{p['version']}"
    components, problems = [], []
    for pid in sorted(seen, key=lambda i: (packages[i]["name"], packages[i]["version"])):
        p = packages[pid]
        c = {"type": "library", "bom-ref": purl(p), "name": p["name"], "version": p["version"],
             "purl": purl(p)}
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        else:
            problems.append(f"{p['name']} {p['version']}: no licence")
        if p.get("source") and p["source"].startswith("registry+"):
            checksum = sums.get((p["name"], p["version"]))
            if checksum:
                c["hashes"] = [{"alg": "SHA-256", "content": checksum}]
            else:
                problems.append(f"{p['name']} {p['version']}: no checksum in Cargo.lock")
        elif p.get("source") is None:
            c["properties"] = [{"name": "cargo:path", "value": p["manifest_path"].rsplit("/", 1)[0]}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        components.append(c)
    app = packages[root]
    app_component = next(c for c in components if c["bom-ref"] == purl(app))
    components.remove(app_component)
    app_component = dict(app_component, type="application", name="shonin")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "scripts/sbom.py"}]},
            "component": app_component,
            "properties": [{"name": "cargo:target", "value": triple}],
        },
        "components": components,
        "dependencies": [
            {"ref": purl(packages[pid]), "dependsOn": [purl(packages[d]) for d in deps]}
            for pid, deps in sorted(edges.items(), key=lambda e: purl(packages[e[0]]))
        ],
    }
    text = json.dumps(bom, indent=2) + "\n"
    if args.out:
        open(args.out, "w").write(text)
    else:
        sys.stdout.write(text)
    print(f"sbom: {len(components)} components for {triple}", file=sys.stderr)
    if args.check and problems:
        print("sbom: " + "\nsbom: ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
