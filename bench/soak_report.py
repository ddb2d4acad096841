#!/usr/bin/env python3
"""Summarises a bench/soak.sh results file: the load per segment, and what must stay bounded
(resident memory, token records, database and WAL files) at points through the run."""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path)]
    samples = [r for r in rows if r["kind"] == "sample"]
    segments = [r for r in rows if r["kind"] == "segment"]
    verify = [r for r in rows if r["kind"] == "verify"]
    ok = sum(s.get("ok", 0) for s in segments)
    errors = sum(s["requests"] - s["ok"] + s.get("transport_errors", 0) for s in segments)
    p99 = sorted(s["latency_ms"]["p99"] for s in segments)
    load_s = max((s["t"] for s in samples if s["phase"] == "load"), default=0)
    print(f"segments: {len(segments)}, ok requests: {ok}, failed: {errors}, "
          f"average {ok / max(load_s, 1):.0f} req/s over {load_s} s")
    if p99:
        print(f"p99 per segment (ms): median {p99[len(p99) // 2]}, worst {p99[-1]}")
    print()
    print("| t (s) | phase | RSS (MiB) | peak RSS (MiB) | token rows | DB (MiB) | WAL (MiB) | audit entries |")
    print("|---|---|---|---|---|---|---|---|")
    marks = {60, 300, 600, 900, 1200, 1500, 1800}
    shown = set()
    for s in samples:
        minute_mark = next((m for m in marks if m not in shown and s["t"] >= m), None)
        last = s is samples[-1]
        first_idle = s["phase"] == "idle" and "idle" not in shown
        if minute_mark is None and not last and not first_idle and s is not samples[0]:
            continue
        if minute_mark is not None:
            shown.add(minute_mark)
        if first_idle:
            shown.add("idle")
        print(f"| {s['t']} | {s['phase']} | {s['rss_kib'] / 1024:.1f} | {s['hwm_kib'] / 1024:.1f} "
              f"| {s['token_rows']} | {s['db_bytes'] / 2**20:.1f} | {s['wal_bytes'] / 2**20:.1f} "
              f"| {s['audit_seq']} |")
    for v in verify:
        print(f"\naudit verify: {v['result']}")


if __name__ == "__main__":
    main(sys.argv[1])
