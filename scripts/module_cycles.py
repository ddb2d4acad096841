#!/usr/bin/env python3
"""Module import cycles (strongly connected components of files) inside each crate.

Each `.rs` file under `crates/*/src` is a node: `lib.rs`/`main.rs` is `crate`, `foo.rs` and
`foo/mod.rs` are `crate::foo`, nested directories likewise. File A has an edge to file B when A
names a path into B: in a `use` item (grouped trees included) or inline in code, starting with
`crate::`, `super::`, `self::` or a child module of A (2018+ uniform paths), or in a
`"crate::x"` string such as serde's `with = "..."`. A path resolves to the longest prefix that is
a module file: `crate::oauth::reject::OAuthError` -> `oauth/reject.rs`, or `oauth/mod.rs` when
`reject` is no file. Why: an edge means "A cannot be read, moved or split out without B", so
`pub use` re-exports and `super::` edges to the parent count, while a bare `mod x;` does not (it
only declares the tree; counting it would fuse every child that touches its parent into one
cycle). Comments, string literals and the item after `#[cfg(test)]` are skipped (tests are not
the production structure; files behind `#[cfg(test)] mod x;` are dropped). A `main.rs` beside a
`lib.rs` is a separate binary crate that reaches the library by name, so it has no edges here.
The size of the largest SCC is the number to watch; `--cuts K` names the edges that shrink it most.

Usage: module_cycles.py [ROOT] [--crate NAME] [--json] [--max N] [--cuts K]
"""
import argparse
import json
import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_]\w*"
LEXEME = re.compile(r"""//[^\n]*|/\*[\s\S]*?\*/|b?r(#*)"[\s\S]*?"\1|b?"(?:\\[\s\S]|[^"\\])*"|"""
                    r"'(?:\\.[^']*|[^\\'])'|\w+")  # comment, raw string, string, char, identifier
PATHLIKE = re.compile(r"(crate|super|self)(::\w+)+")
TEST_ATTR = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
USE = re.compile(r"(?<![\w$])use\s+([^;]*);")
INLINE_MOD = re.compile(r"(?<![\w$])mod\s+(" + IDENT + r")\s*\{")
PATH = re.compile(r"(?<![\w$:.])(" + IDENT + r")((?:\s*::\s*" + IDENT + r")+)")
VIS_IN = re.compile(r"pub\s*\(\s*in\s+[^)]*\)")


def blank(s):
    return re.sub(r"[^\n]", " ", s)


def strip_comments_and_strings(src):
    """Same length and line breaks as `src`, with comments and literals blanked."""

    def one(m):
        tok = m.group(0)
        if tok[0] not in "/\"'rb" or re.fullmatch(r"\w+", tok):
            return tok
        body = tok.lstrip("b").strip('"')
        if PATHLIKE.fullmatch(body):  # `#[serde(with = "crate::x")]` names a real dependency
            return " " + body + " " * (len(tok) - len(body) - 1)
        return blank(tok)

    return LEXEME.sub(one, src)


def block_end(text, i):
    """End of the item starting at i: its first `;` or its `{…}` block, at nesting level 0."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] in "([{":
            depth += 1
        elif text[j] in ")]}":
            depth -= 1
            if depth == 0 and text[j] == "}":
                return j + 1
        elif text[j] == ";" and depth == 0:
            return j + 1
    return len(text)


def parse_use_tree(body):
    """`crate::{a::b, c as d, e::*}` -> [['crate','a','b'], ['crate','c'], ['crate','e','*']]."""
    out, stack, cur, pending, alias = [], [[]], [], False, False
    for t in re.findall(r"::|[{},*]|\w+", body):
        if alias:
            alias = False
        elif t == "as":
            alias = True
        elif t == "::":
            cur = cur or ["::"]  # a leading `::` names an external crate
        elif t == "{":
            stack.append(cur)
        elif t in ",}":
            if pending:
                out.append(cur)
            pending = False
            if t == "}" and len(stack) > 1:
                stack.pop()
            cur = list(stack[-1])
        else:
            cur, pending = cur + [t], True
    return out + [cur] * pending


def crate_files(src_dir):
    """{module path: Path} for one crate; a `main.rs` beside `lib.rs` is 'bin'."""
    mods = {}
    for f in sorted(src_dir.rglob("*.rs")):
        parts = list(f.relative_to(src_dir).with_suffix("").parts)
        if parts[0] == "bin":
            continue
        if parts in (["lib"], ["main"]):
            name = "crate" if parts == ["lib"] or not (src_dir / "lib.rs").exists() else "bin"
        else:
            name = "::".join(["crate"] + parts[:-1] + ([] if parts[-1] == "mod" else parts[-1:]))
        mods[name] = f
    return mods


def file_edges(mod, path, mods):
    """{target module: (line, path text)} for one file, plus test-only child modules."""
    text = strip_comments_and_strings(path.read_text(encoding="utf-8", errors="replace"))
    text = VIS_IN.sub(lambda m: blank(m.group(0)), text)
    test_mods = []
    for m in reversed(list(TEST_ATTR.finditer(text))):
        end = block_end(text, m.end())
        if decl := re.fullmatch(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text[m.end():end]):
            test_mods.append(mod + "::" + decl.group(1))
        text = text[:m.start()] + blank(text[m.start():end]) + text[end:]
    inline = [(m.start(), block_end(text, m.start()), m.group(1)) for m in INLINE_MOD.finditer(text)]
    if mod == "bin":  # the binary crate has no other files; it uses the library by name
        return {}, test_mods
    base_segs = mod.split("::")
    found = {}

    def add(pos, segs, shown):
        cur = base_segs + [name for s, e, name in inline if s <= pos < e]
        head = segs[0]
        if head == "crate":
            full = ["crate"]
        elif head == "self":
            full = cur
        elif head == "super":
            full = cur
            while segs and segs[0] == "super":
                full, segs = full[:-1], segs[1:]
            segs = ["super"] + segs
        elif "::".join(cur + [head]) in mods:
            full, segs = cur, ["self"] + segs
        else:
            return
        full = full + [s for s in segs[1:] if s not in ("self", "*")]
        for k in range(len(full), 0, -1):
            target = "::".join(full[:k])
            if target in mods:
                if target != mod and target not in found:
                    found[target] = (text.count("\n", 0, pos) + 1, shown)
                return

    for m in USE.finditer(text):
        for segs in parse_use_tree(m.group(1)):
            add(m.start(), segs, "use " + "::".join(segs))
        text = text[:m.start()] + blank(m.group(0)) + text[m.end():]
    for m in PATH.finditer(text):
        segs = [m.group(1)] + re.findall(IDENT, m.group(2))
        add(m.start(), segs, "::".join(segs))
    return found, test_mods


def sccs(nodes, edges):
    """Tarjan's algorithm without recursion; `edges` maps node -> iterable of nodes."""
    index, low, stack, on, out, work = {}, {}, [], set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        work.append((v, iter(edges.get(v, ()))))

    for root in nodes:
        if root not in index:
            visit(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    visit(w)
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    cut = stack.index(v)
                    out.append(stack[cut:])
                    on.difference_update(stack[cut:])
                    del stack[cut:]
    return out


def analyse(crate_dir, cuts):
    mods = crate_files(crate_dir / "src")
    graph, why, dropped = {}, {}, []
    for mod, path in mods.items():
        found, tests = file_edges(mod, path, mods)
        dropped += tests
        graph[mod] = set(found)
        why.update({(mod, t): r for t, r in found.items()})
    keep = [m for m in mods if not any(m == d or m.startswith(d + "::") for d in dropped)]
    graph = {m: {t for t in graph[m] if t in keep} for m in keep}
    rel = lambda m: mods[m].relative_to(crate_dir).as_posix()
    comps = sorted((c for c in sccs(keep, graph) if len(c) > 1), key=lambda c: (-len(c), sorted(c)))
    result = []
    for comp in comps:
        entry = {"size": len(comp), "files": sorted(rel(m) for m in comp)}
        if cuts:
            inside, scores = set(comp), []
            for u in sorted(comp):
                for v in sorted(graph[u] & inside):
                    sub = {a: {b for b in graph[a] & inside if (a, b) != (u, v)} for a in comp}
                    largest = max(len(c) for c in sccs(sorted(comp), sub))
                    line, shown = why[(u, v)]
                    scores.append({"from": rel(u), "to": rel(v), "largest_after": largest,
                                   "line": line, "path": shown})
            entry["cuts"] = sorted(scores, key=lambda s: s["largest_after"])[:cuts]
        result.append(entry)
    return {"crate": crate_dir.name, "files": len(keep),
            "edges": sum(len(t) for t in graph.values()), "sccs": result}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=Path(__file__).resolve().parent.parent, type=Path)
    ap.add_argument("--crate", help="only this crate (directory name under crates/)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--max", type=int, help="exit 1 if a cycle has more than MAX files")
    ap.add_argument("--cuts", type=int, default=0, help="per cycle, the K best edges to cut")
    args = ap.parse_args()
    dirs = sorted(d for d in (args.root / "crates").iterdir() if (d / "src").is_dir())
    if args.crate:
        dirs = [d for d in dirs if d.name == args.crate]
        if not dirs:
            ap.error(f"no crate {args.crate!r} under {args.root / 'crates'}")
    report = [analyse(d, args.cuts) for d in dirs]
    largest = max((s["size"] for r in report for s in r["sccs"]), default=0)
    if args.json:
        print(json.dumps({"crates": report, "largest_scc": largest}, indent=2))
    else:
        for r in report:
            sizes = ", ".join(str(s["size"]) for s in r["sccs"]) or "none"
            print(f"{r['crate']}: {r['files']} files, {r['edges']} edges, cycles: {sizes}")
            for s in r["sccs"]:
                print(f"  cycle of {s['size']} files:")
                print("".join(f"    {f}\n" for f in s["files"]), end="")
                for c in s.get("cuts", []):
                    print(f"    cut {c['from']} -> {c['to']} (line {c['line']}: {c['path']})"
                          f" leaves largest {c['largest_after']}")
    if args.max is not None and largest > args.max:
        print(f"largest cycle has {largest} files, more than --max {args.max}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
