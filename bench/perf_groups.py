#!/usr/bin/env python3
"""Groups `perf report --sort dso,symbol -g none --stdio` lines (on stdin) by kind of work.

The groups are by symbol name, so they are approximate: in a VM, cpu-clock samples taken while
interrupts were off land on the next `*_unlock_irq*` or `finish_task_switch`, which is why those
are counted as "scheduling and wake-ups" rather than as whatever ran before them.
"""

import re
import sys

GROUPS = [
    ("ES256 / SHA-256 (aws-lc)", r"nistz256|ecp_|ecdsa|bn_|beeu|p256|sha256|aws_lc_0"),
    ("SQLite (library)", r"sqlite3|^wal|pcache|btree|Vdbe|vdbe|pager|sqlx_sqlite"),
    ("fsync, page cache, block I/O (kernel)",
     r"ext4|blk_|fsync|filemap|folio|iowrite|virtio|submit_bio|writeback|jbd2|shmem|xas_|_copy_to_iter|_copy_from_iter|copy_page"),
    ("scheduling, futex, wake-ups (mostly kernel)",
     r"finish_task_switch|schedule|futex|wake|_raw_spin_unlock|irqentry_exit|exit_to_user|softirq|hrtimer|nanosleep|epoll"),
    ("TCP/loopback (kernel)", r"tcp_|ip_|skb|inet|sock|net_|__dev_queue|loopback|napi"),
    ("TLS (rustls, AES-GCM)", r"rustls|aes|gcm|ghash|chacha"),
    ("allocator, memcpy (libc)", r"malloc|free|_int_|memmove|memcpy|memset|memcmp|unlink_chunk|consolidate|strlen"),
    ("JSON, logging, HTTP, tokio, rest of shonin", r"."),
]


def main():
    totals = {name: 0.0 for name, _ in GROUPS}
    line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$")
    for line in sys.stdin:
        m = line_re.match(line)
        if not m:
            continue
        pct, _dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        for name, pattern in GROUPS:
            if re.search(pattern, sym):
                totals[name] += pct
                break
    print("  samples by kind of work (approximate, by symbol name):")
    for name, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"    {pct:5.1f} %  {name}")


if __name__ == "__main__":
    main()
