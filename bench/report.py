#!/usr/bin/env python3
"""Prints the table of a bench/run.sh results file (JSON lines written by `loadgen`).

Usage: bench/report.py RESULTS.jsonl
"""

import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    crypto = next((r for r in rows if r["mode"] == "crypto"), None)
    # The main runs are client_credentials; refresh_token and userinfo runs carry their kind.
    measured = [r for r in rows
                if r["mode"] == "run" and "sweep_of" not in r and "floor_of" not in r]
    runs = {r["label"]: r for r in measured
            if r.get("kind", "client-credentials") == "client-credentials"}
    others = {kind: {r["label"]: r for r in measured if r.get("kind") == kind}
              for kind in ("refresh-token", "userinfo")}
    floors = {r["floor_of"]: r for r in rows if r["mode"] == "run" and "floor_of" in r}
    sweeps = [r for r in rows if r["mode"] == "run" and "sweep_of" in r]
    flows = {r["label"]: r for r in rows if r["mode"] == "flow"}
    approvals = {r["label"]: r for r in rows if r["mode"] == "approval"}

    for m in (r for r in rows if r["mode"] == "machine"):
        print(f"Machine ({m['when']}): {m['cpus']} × {m['cpu']}, Linux {m['kernel']}, "
              f"load average {' '.join(f'{x:.2f}' for x in m['loadavg'])}")
    print()

    if crypto:
        print("Crypto ceiling (ES256: 2 verifications + 1 signature per request)")
        print(f"  {'threads':>7}  {'bundle/s':>9}  {'verify/s':>9}  {'sign/s':>9}  "
              f"{'raw verify/s':>12}  {'raw sign/s':>10}")
        for t, r in sorted(crypto["threads"].items(), key=lambda kv: int(kv[0])):
            print(f"  {t:>7}  {r['bundle_per_s']:>9.0f}  {r['jose_verify_per_s']:>9.0f}  "
                  f"{r['jose_sign_per_s']:>9.0f}  {r['raw_verify_per_s']:>12.0f}  "
                  f"{r['raw_sign_per_s']:>10.0f}")
        if crypto.get("other_cpu_s") is not None:
            print(f"  (other CPU during the measurement: {crypto['other_cpu_s']:.2f} s)")
        print()

    print("Token endpoint: client_credentials + private_key_jwt (ES256) + DPoP, "
          f"HTTP/1.1 keep-alive, TLS")
    print(f"  {'server':<16} {'conc':>4} {'requests':>8} {'ok req/s':>9} {'p50 ms':>7} "
          f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'non-200':>7} {'srv µs/req':>10} "
          f"{'db µs/req':>9} {'gen CPU s':>9} {'other CPU s':>11}")

    def per_req(r, key):
        cpu = r.get(key)
        return f"{cpu / r['ok'] * 1e6:.0f}" if cpu and r["ok"] else "-"

    for label, r in runs.items():
        lat = r["latency_ms"]
        bad = r["requests"] - r["ok"] + r["transport_errors"]
        other = r.get("other_cpu_s")
        print(f"  {label:<16} {r['concurrency']:>4} {r['requests']:>8} {r['ok_rps']:>9.0f} "
              f"{lat['p50']:>7.2f} {lat['p90']:>7.2f} {lat['p99']:>7.2f} {lat['max']:>7.2f} "
              f"{bad:>7} {per_req(r, 'server_cpu_s'):>10} {per_req(r, 'db_cpu_s'):>9} "
              f"{r.get('client_cpu_s') or 0:>9.2f} {'-' if other is None else f'{other:.2f}':>11}")
    print("  (CPU: µs of server / database CPU per OK request; other CPU s: seconds of CPU used")
    print("   during the window by anything but server, database and generator — a few seconds")
    print("   or more means other work on the machine disturbed the figures)")
    print()

    at_peak = sweep_table(runs, sweeps) if sweeps else {}

    if crypto and floors:
        bound_table(crypto, runs, floors)
        peer_bound_table(crypto, runs, others, floors)

    mtls = [r for r in rows if r["mode"] == "mtls"]
    if mtls:
        # Issue 5: tls_client_auth + certificate-bound tokens, next to the DPoP figures above.
        print("Token endpoint: client_credentials + tls_client_auth + certificate-bound tokens "
              "(RFC 8705), HTTP/1.1, TLS")
        print(f"  {'run':<36} {'conc':>4} {'requests':>8} {'ok req/s':>9} {'p50 ms':>7} "
              f"{'p99 ms':>7} {'non-200':>7} {'srv µs/req':>10} {'÷ DPoP':>7}")
        for r in mtls:
            lat = r["latency_ms"]
            bad = r["requests"] - r["ok"] + r["transport_errors"]
            engine = r["label"].split(" ")[0]  # shonin-sqlite / shonin-postgres
            dpop = runs.get(engine)
            ratio = f"{r['ok_rps'] / dpop['ok_rps']:.2f}×" if dpop and dpop["ok_rps"] else "-"
            print(f"  {r['label']:<36} {r['concurrency']:>4} {r['requests']:>8} "
                  f"{r['ok_rps']:>9.0f} {lat['p50']:>7.2f} {lat['p99']:>7.2f} {bad:>7} "
                  f"{per_req(r, 'server_cpu_s'):>10} {ratio:>7}")
        print("  (keep-alive: one handshake per connection; new-handshake: a new connection and a")
        print("   full TLS handshake with client authentication per request; ÷ DPoP: ok req/s over")
        print("   the private_key_jwt + DPoP run on the same engine)")
        print()

    titles = {
        "refresh-token": "Token endpoint: refresh_token grant + private_key_jwt (ES256) + DPoP "
                         "(one refresh token, not rotated)",
        "userinfo": "Resource access: GET /userinfo, Authorization: DPoP + proof with ath",
    }
    for kind, by_label in others.items():
        if not by_label:
            continue
        print(f"{titles[kind]}, HTTP/1.1 keep-alive, TLS")
        print(f"  {'run':<24} {'conc':>4} {'requests':>8} {'ok req/s':>9} {'p50 ms':>7} "
              f"{'p99 ms':>7} {'non-200':>7} {'srv µs/req':>10} {'db µs/req':>9} "
              f"{'other CPU s':>11}")
        for label, r in by_label.items():
            lat = r["latency_ms"]
            bad = r["requests"] - r["ok"] + r["transport_errors"]
            other = r.get("other_cpu_s")
            print(f"  {label:<24} {r['concurrency']:>4} {r['requests']:>8} {r['ok_rps']:>9.0f} "
                  f"{lat['p50']:>7.2f} {lat['p99']:>7.2f} {bad:>7} "
                  f"{per_req(r, 'server_cpu_s'):>10} {per_req(r, 'db_cpu_s'):>9} "
                  f"{'-' if other is None else f'{other:.2f}':>11}")
        print()

    if flows:
        print("Full code flows (PAR → authorize → sign-in → consent → token)")
        print(f"  {'server':<28} {'sign-in':>8} {'conc':>4} {'flows ok':>8} {'flows/s':>8} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'failed':>6} {'srv ms/flow':>11} "
              f"{'other CPU s':>11}")
        for label, r in flows.items():
            lat = r["latency_ms"]
            cpu = r.get("server_cpu_s")
            srv = f"{cpu / r['ok'] * 1e3:.2f}" if cpu and r["ok"] else "-"
            other = r.get("other_cpu_s")
            print(f"  {label:<28} {r.get('sign_in', 'password'):>8} {r['concurrency']:>4} "
                  f"{r['ok']:>8} {r['flows_per_s']:>8.1f} {lat['p50']:>7.1f} {lat['p99']:>7.1f} "
                  f"{r['flows'] - r['ok']:>6} {srv:>11} "
                  f"{'-' if other is None else f'{other:.2f}':>11}")
        print("  (srv ms/flow: ms of server CPU per successful flow, both sign-ins included)")
        print()

    if approvals:
        # Per approval the server verifies 9 ES256 signatures (the access token and a DPoP
        # proof on each of the 4 calls, and the passkey's assertion) and makes 1 (the receipt).
        one = crypto["threads"].get("1") if crypto else None
        sig_ms = (9 / one["jose_verify_per_s"] + 1 / one["jose_sign_per_s"]) * 1e3 if one else None
        print("Transaction approvals (create → challenge → passkey → approve → execute)")
        print(f"  {'server':<28} {'conc':>4} {'ok':>6} {'approvals/s':>11} {'p50 ms':>7} "
              f"{'p99 ms':>7} {'failed':>6} {'srv ms/appr':>11} {'÷ signatures':>12}")
        for label, r in approvals.items():
            lat = r["latency_ms"]
            cpu = r.get("server_cpu_s")
            per = cpu / r["ok"] * 1e3 if cpu and r["ok"] else None
            ratio = f"{per / sig_ms:.2f}×" if per and sig_ms else "-"
            print(f"  {label:<28} {r['concurrency']:>4} {r['ok']:>6} {r['flows_per_s']:>11.1f} "
                  f"{lat['p50']:>7.1f} {lat['p99']:>7.1f} {r['flows'] - r['ok']:>6} "
                  f"{'-' if per is None else f'{per:.2f}':>11} {ratio:>12}")
        if sig_ms:
            print(f"  (signatures: 9 ES256 verifications + 1 signature = {sig_ms:.2f} ms of one core "
                  "at the 1-thread crypto rates above)")
        print()

    peer = runs.get("oidc-provider")
    ceiling = crypto["ceiling_rps"] if crypto else None
    print("Ratios (ok req/s)")
    for engine in ("sqlite", "postgres"):
        r = runs.get(f"shonin-{engine}")
        if not r:
            continue
        parts = [f"  Shonin/{engine:<8}"]
        if peer and peer["ok_rps"]:
            parts.append(f"÷ oidc-provider = {r['ok_rps'] / peer['ok_rps']:.2f}×")
        if ceiling:
            parts.append(f"÷ ceiling = {100 * r['ok_rps'] / ceiling:.1f} %")
        parts.append(f"p99 {r['latency_ms']['p99']:.2f} ms")
        if f"shonin-{engine}" in at_peak:
            p = at_peak[f"shonin-{engine}"]
            parts.append(f"p99 at peak {p['latency_ms']['p99']:.2f} ms "
                         f"({p['concurrency']} conns, {p['ok_rps']:.0f} req/s)")
        print("   ".join(parts))
    # Every grant against node-oidc-provider: the same kind of request, the same load.
    names = {"refresh-token": "refresh_token", "userinfo": "userinfo"}
    for kind, by_label in others.items():
        peer_k = by_label.get(f"oidc-provider {kind.split('-')[0]}")
        for engine in ("sqlite", "postgres"):
            r = next((v for k, v in by_label.items() if k.startswith(f"shonin-{engine} ")), None)
            if not r:
                continue
            parts = [f"  Shonin/{engine:<8} {names[kind]:<14}"]
            if peer_k and peer_k["ok_rps"]:
                parts.append(f"÷ oidc-provider = {r['ok_rps'] / peer_k['ok_rps']:.2f}×")
            else:
                parts.append("÷ oidc-provider = -")
            s, p = r.get("server_cpu_s"), (peer_k or {}).get("server_cpu_s")
            if s and p and r["ok"] and peer_k["ok"]:
                parts.append(f"server CPU per request ÷ oidc-provider's = "
                             f"{(s / r['ok']) / (p / peer_k['ok']):.2f}")
            print("   ".join(parts))
    # Passkey sign-in flows against password sign-in flows on the same engine.
    for engine in ("sqlite", "postgres"):
        pw = flows.get(f"shonin-{engine} flow")
        pk = flows.get(f"shonin-{engine} flow passkey")
        if not (pw and pk and pw["flows_per_s"]):
            continue
        parts = [f"  Shonin/{engine:<8} flows, passkey ÷ password = "
                 f"{pk['flows_per_s'] / pw['flows_per_s']:.2f}× (flows/s)"]
        if pw.get("server_cpu_s") and pk.get("server_cpu_s") and pw["ok"] and pk["ok"]:
            parts.append(f"server CPU per flow: password ÷ passkey = "
                         f"{(pw['server_cpu_s'] / pw['ok']) / (pk['server_cpu_s'] / pk['ok']):.2f}")
        print("   ".join(parts))


def bound_table(crypto, runs, floors):
    """How far "÷ ceiling" can go on this machine. Per token request the machine spends the
    signature operations (cores ÷ ceiling), what any request costs the server (the floor: the same
    requests answered with 404), the generator's CPU, and the token endpoint's own work; even if
    that last part cost nothing, the ratio could not exceed crypto ÷ (crypto + floor + generator)."""
    cores = max(int(t) for t in crypto["threads"])
    sig = cores * 1e6 / crypto["ceiling_rps"]
    print("How far ÷ ceiling can go (µs of one core per token request)")
    print(f"  {'server':<16} {'signatures':>10} {'floor':>6} {'generator':>9} {'bound':>6} "
          f"{'÷ ceiling':>9} {'own work':>8}")
    for engine, f in floors.items():
        r = runs.get(engine)
        if not (r and r["ok"] and f["requests"] and f.get("server_cpu_s") is not None):
            continue
        floor = f["server_cpu_s"] / f["requests"] * 1e6
        gen = (r.get("client_cpu_s") or 0) / r["ok"] * 1e6
        bound = sig / (sig + floor + gen)
        own = (r.get("server_cpu_s") or 0) / r["ok"] * 1e6 - sig - floor
        print(f"  {engine:<16} {sig:>10.0f} {floor:>6.0f} {gen:>9.0f} {100 * bound:>5.0f}% "
              f"{100 * r['ok_rps'] / crypto['ceiling_rps']:>8.1f}% {own:>8.0f}")
    print(f"  (signatures: {cores} cores ÷ ceiling; floor: server CPU per request for the same")
    print("   requests sent to a path answered with 404; generator: loadgen's CPU per token")
    print("   request; bound: the ratio if the token endpoint's own work cost nothing; own work:")
    print("   server CPU per token request − signatures − floor — JOSE and form parsing, checks,")
    print("   the durable writes, the audit entry)")
    print()


def peer_bound_table(crypto, runs, others, floors):
    """How far "÷ oidc-provider" can go on this machine, per grant. The server and the generator
    share the cores, so a run that keeps them busy serves at most cores ÷ (signatures + floor +
    generator) requests per second even if the endpoint's own work cost nothing; divided by the
    peer's measured rate for the same kind of request, that is the highest ratio reachable here.
    Signatures per request: client_credentials and refresh_token verify two JWS (the client
    assertion, the DPoP proof) and sign one (the access token): the crypto bundle; /userinfo
    verifies two (the access token, the DPoP proof with `ath`) and signs none."""
    cores = max(int(t) for t in crypto["threads"])
    on_all = crypto["threads"].get(str(cores)) or crypto["threads"].get(cores) or {}
    verify = on_all.get("jose_verify_per_s")
    sig = {"client-credentials": cores * 1e6 / crypto["ceiling_rps"],
           "refresh-token": cores * 1e6 / crypto["ceiling_rps"],
           "userinfo": 2 * cores * 1e6 / verify if verify else None}
    names = {"client-credentials": "client_credentials", "refresh-token": "refresh_token",
             "userinfo": "userinfo"}
    print("How far ÷ oidc-provider can go (µs of one core per request; bound: own work = 0)")
    print(f"  {'server':<16} {'grant':<18} {'signatures':>10} {'floor':>6} {'generator':>9} "
          f"{'max req/s':>9} {'peer req/s':>10} {'bound':>6} {'measured':>8}")
    for engine, f in floors.items():
        if not (f["requests"] and f.get("server_cpu_s") is not None):
            continue
        floor = f["server_cpu_s"] / f["requests"] * 1e6
        for kind in ("client-credentials", "refresh-token", "userinfo"):
            if kind == "client-credentials":
                r, peer = runs.get(engine), runs.get("oidc-provider")
            else:
                by_label = others.get(kind, {})
                r = next((v for k, v in by_label.items() if k.startswith(f"{engine} ")), None)
                peer = by_label.get(f"oidc-provider {kind.split('-')[0]}")
            if not (r and r["ok"] and peer and peer["ok_rps"] and sig[kind]):
                continue
            gen = (r.get("client_cpu_s") or 0) / r["ok"] * 1e6
            most = cores * 1e6 / (sig[kind] + floor + gen)
            print(f"  {engine:<16} {names[kind]:<18} {sig[kind]:>10.0f} {floor:>6.0f} {gen:>9.0f} "
                  f"{most:>9.0f} {peer['ok_rps']:>10.0f} {most / peer['ok_rps']:>5.2f}× "
                  f"{r['ok_rps'] / peer['ok_rps']:>7.2f}×")
    print("  (max req/s: cores ÷ (signatures + floor + generator), what the endpoint could serve")
    print("   here if its own work cost nothing; bound: that ÷ the peer's measured req/s; the")
    print("   floor is the token requests' (a GET /userinfo passes the same layers))")
    print()


def sweep_table(runs, sweeps):
    """The same load at each concurrency; the peak is the most ok req/s, and "p99 at peak" is
    the p99 of the fewest connections that reach 95 % of it (more connections than that only
    add queueing)."""
    found = {}
    print("Concurrency sweep (same load; 10 s per point, the main run's row for its concurrency)")
    print(f"  {'server':<16} {'conc':>4} {'ok req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'÷ peak':>7}")
    for engine in dict.fromkeys(r["sweep_of"] for r in sweeps):
        points = sorted([r for r in sweeps if r["sweep_of"] == engine]
                        + ([runs[engine]] if engine in runs else []),
                        key=lambda r: r["concurrency"])
        peak = max(r["ok_rps"] for r in points)
        at_peak = found[engine] = next(r for r in points if r["ok_rps"] >= 0.95 * peak)
        for r in points:
            lat = r["latency_ms"]
            mark = "  ← p99 at peak" if r is at_peak else ""
            print(f"  {engine:<16} {r['concurrency']:>4} {r['ok_rps']:>9.0f} {lat['p50']:>7.2f} "
                  f"{lat['p99']:>7.2f} {100 * r['ok_rps'] / peak:>6.0f}%{mark}")
    print("  (p99 at peak: the fewest connections reaching 95 % of the highest req/s)")
    print()
    return found


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
