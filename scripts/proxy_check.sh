#!/usr/bin/env bash
# Runs the reverse-proxy examples of docs/operations.md ("Behind nginx or Caddy") as written,
# with only the host name, ports and certificate paths replaced: Shonin in `server.mode =
# "proxy"` behind nginx, then behind Caddy, each checked through the proxy over TLS:
#   - /readyz answers 200;
#   - discovery names the proxy's public URL as the issuer, and its endpoints under it;
#   - X-Forwarded-For: /metrics (allowed for loopback clients only) answers 200 to the proxy's
#     client; a request that says it came from 203.0.113.9 is refused behind nginx (which
#     appends to the header; this test's client is itself on a trusted address, so Shonin reads
#     the value to its left) and allowed behind Caddy (which replaces a client's value with the
#     address it saw).
# Usage: scripts/proxy_check.sh SHONIN_BINARY   (needs nginx, caddy, openssl, curl, python3)
# Everything listens on 127.0.0.1; every process it starts is stopped by its PID.
set -euo pipefail
BIN=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/shonin-proxy.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [[ -n "${PROXY_KEEP:-}" ]] || rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "proxy check: $*" >&2; for f in "$W"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# The document's blocks: the first ```toml, ```nginx and ```caddyfile block of the section.
python3 - "$ROOT/docs/operations.md" "$W" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("## Behind nginx or Caddy", 1)[1].split("\n## ", 1)[0]
for lang in ("toml", "nginx", "caddyfile"):
    m = re.search(r"```" + lang + r"\n(.*?)```", section, re.S)
    assert m, f"no {lang} block in the section"
    open(f"{sys.argv[2]}/doc.{lang}", "w").write(m.group(1))
PY

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A throw-away CA and a certificate for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=proxy-ca \
  -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$W/site.key" -out "$W/site.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$W/site.ext"
openssl x509 -req -in "$W/site.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -set_serial 7 -days 1 \
  -extfile "$W/site.ext" -out "$W/site.pem" 2>/dev/null
head -c 32 /dev/urandom | base64 >"$W/master.key"
chmod 600 "$W/master.key"

check() { # PROXY PUBLIC_PORT SPOOFED_METRICS_STATUS
  local base="https://localhost:$2"
  local c=(curl -sS --cacert "$W/ca.pem" --resolve "localhost:$2:127.0.0.1" -o "$W/body" -w '%{http_code}')
  local code=""
  for _ in $(seq 1 100); do
    code=$("${c[@]}" "$base/readyz" 2>/dev/null || true)
    [[ $code == 200 ]] && break
    sleep 0.2
  done
  [[ $code == 200 ]] || fail "$1: /readyz through the proxy answered '$code'"
  [[ $("${c[@]}" "$base/.well-known/openid-configuration") == 200 ]] || fail "$1: discovery"
  python3 - "$W/body" "$base" "$1" <<'PY' || fail "$1: discovery does not name the public URL"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["issuer"] == sys.argv[2], d["issuer"]
assert d["token_endpoint"].startswith(sys.argv[2] + "/"), d["token_endpoint"]
print(f"{sys.argv[3]}: discovery names {d['issuer']}")
PY
  [[ $("${c[@]}" "$base/metrics") == 200 ]] || fail "$1: /metrics from the loopback client"
  code=$("${c[@]}" -H 'X-Forwarded-For: 203.0.113.9' "$base/metrics")
  [[ $code == "$3" ]] || fail "$1: /metrics with X-Forwarded-For 203.0.113.9 answered $code, not $3"
  echo "$1: /readyz 200; /metrics said to come from 203.0.113.9: $code, as expected"
}

for proxy in nginx caddy; do
  backend=$(port) public=$(port)
  D=$W/data-$proxy
  mkdir -m 700 "$D"
  # Shonin's configuration as the document writes it, with this run's URL and address.
  sed -e "s|https://auth.bank.example|https://localhost:$public|" \
      -e "s|127.0.0.1:8080|127.0.0.1:$backend|" "$W/doc.toml" >"$W/shonin-$proxy.toml"
  cat >>"$W/shonin-$proxy.toml" <<TOML

[storage]
url = "sqlite:$D/shonin.db"

[keys]
master_key_file = "$W/master.key"
keyring = "$D/keyring.json"
TOML
  "$BIN" --data-dir "$D" --config "$W/shonin-$proxy.toml" migrate >"$W/migrate-$proxy.log" 2>&1 ||
    fail "$proxy: shonin migrate"
  "$BIN" --data-dir "$D" --config "$W/shonin-$proxy.toml" serve >"$W/shonin-$proxy.log" 2>&1 &
  PIDS+=($!)
  case $proxy in
    nginx)
      mkdir -p "$W/nginx/logs"
      # Only ever on loopback: a listen line the substitution misses fails the check.
      grep -q '^    listen 443 ssl' "$W/doc.nginx" || fail "nginx: the document's listen line changed"
      sed -e "s|^    listen 443 ssl|    listen 127.0.0.1:$public ssl|" \
          -e "s|auth.bank.example;|localhost;|" \
          -e "s|/etc/nginx/tls/auth.bank.example.pem|$W/site.pem|" \
          -e "s|/etc/nginx/tls/auth.bank.example.key|$W/site.key|" \
          -e "s|127.0.0.1:8080|127.0.0.1:$backend|" "$W/doc.nginx" >"$W/site.conf"
      cat >"$W/nginx.conf" <<CONF
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    include $W/site.conf;
}
CONF
      nginx -p "$W/nginx" -c "$W/nginx.conf" >>"$W/nginx.log" 2>&1 &
      PIDS+=($!)
      ;;
    caddy)
      {
        # Loopback only, no HTTP/3 (UDP) listener, no admin endpoint.
        printf '{\n    admin off\n    auto_https disable_redirects\n    servers {\n        protocols h1 h2\n    }\n}\n'
        sed -e "s|^auth.bank.example {|localhost:$public {\n    bind 127.0.0.1\n    tls $W/site.pem $W/site.key|" \
            -e "s|127.0.0.1:8080|127.0.0.1:$backend|" "$W/doc.caddyfile"
      } >"$W/Caddyfile"
      XDG_DATA_HOME=$W/caddy XDG_CONFIG_HOME=$W/caddy HOME=$W \
        caddy run --config "$W/Caddyfile" --adapter caddyfile >"$W/caddy.log" 2>&1 &
      PIDS+=($!)
      ;;
  esac
  if [[ $proxy == nginx ]]; then check nginx "$public" 404; else check caddy "$public" 200; fi
done
