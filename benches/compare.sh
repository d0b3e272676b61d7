#!/usr/bin/env bash
# guestpass side by side with nginx and haproxy, on loopback, with the same CPU budget.
#
#   benches/compare.sh            (as root on Debian 12; see benches/README.md)
#
# One static origin (nginx: GET from files, PUT through its WebDAV module, which reads the
# whole body into a file before it answers) is fronted by three proxies, each pinned to
# the same core as the origin with one worker:
#   nginx     plain reverse proxy, keep-alive upstream, request and response buffering off
#   haproxy   plain reverse proxy, nbthread 1
#   guestpass verifies every pre-signed URL, re-signs, streams; TOKIO_WORKER_THREADS=1,
#             [log] level = "warn" (no access-log line per request)
# wrk, pinned to the other core, walks a file of distinct pre-signed URLs (minted by
# `guestpass presign`) at the same concurrency for each target. nginx and haproxy ignore
# the query, so the same paths work for all three. Then a 2 GiB GET and PUT go through
# each proxy with curl, guestpass's peak RSS sampled from /proc throughout.
#
# Knobs (environment): DURATION (s per measured run, 10), WARMUP (s, 2), CONC_SMALL (64),
# CONC_LARGE (16), SERVER_CPU (0), CLIENT_CPU (1), BIG_BYTES (2147483648), OUT (directory
# for results.md and the raw numbers; target/compare), PROFILE=1 (perf profile of guestpass
# under the 1 KiB GET load, when perf works), NGINX_PROXY_BUFFER_SIZE (nginx's default: a
# memory page). Every run is bounded in time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONC_SMALL=${CONC_SMALL:-64}
CONC_LARGE=${CONC_LARGE:-16}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BIG_BYTES=${BIG_BYTES:-2147483648}
OUT=${OUT:-$ROOT/target/compare}

ORIGIN_PORT=18080
NGINX_PORT=18081
HAPROXY_PORT=18082
GUESTPASS_PORT=18083
TARGETS=(nginx haproxy guestpass)
declare -A PORT=([nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [guestpass]=$GUESTPASS_PORT)

STARTED=$(date +%s)
log() { printf '[compare %3ss] %s\n' "$(($(date +%s) - STARTED))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools --------------------------------------------------------------------------------

install_missing() {
    local need=() cmd pkg
    for pair in nginx:nginx-light wrk:wrk haproxy:haproxy curl:curl taskset:util-linux pgrep:procps; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || need+=("$pkg")
    done
    ((${#need[@]} == 0)) && return
    [[ $EUID -eq 0 ]] || die "missing ${need[*]}: run as root (or apt-get install -y ${need[*]})"
    log "installing ${need[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # The packages' own services (started or not by policy-rc.d) are not the ones measured.
}

install_missing
export PATH=$PATH:/usr/sbin
command -v cargo >/dev/null || die "cargo is needed to build guestpass (https://rustup.rs)"
CORES=$(nproc)
if ((CORES < 2)); then
    log "warning: one core only; server and load generator share it"
    CLIENT_CPU=$SERVER_CPU
fi

log "building guestpass (release)"
(cd "$ROOT" && cargo build --release --quiet --bin guestpass)
GUESTPASS="$ROOT/target/release/guestpass"

# --- work area, processes, cleanup --------------------------------------------------------

# tmpfs when it has room for the 2 GiB PUT (the origin stores it), else disk.
shm_free_kib=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
if [[ -n ${shm_free_kib:-} ]] && ((shm_free_kib * 1024 * 2 > BIG_BYTES * 3)); then
    WORK=$(mktemp -d /dev/shm/guestpass-compare.XXXXXX)
else
    WORK=$(mktemp -d /var/tmp/guestpass-compare.XXXXXX)
fi
chmod 755 "$WORK"
PIDS=()
declare -A PID=()
SAMPLER=""

cleanup() {
    local pid
    if [[ -n $SAMPLER ]]; then kill "$SAMPLER" 2>/dev/null || true; fi
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME COMMAND...: runs COMMAND pinned to the server core (taskset execs it,
# so the pid is the server's own).
start_server() {
    local name=$1
    shift
    taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.out" 2>&1 &
    PIDS+=($!)
    PID[$name]=$!
}

wait_port() {
    local name=$1 port=$2 i
    for i in $(seq 1 100); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    cat "$WORK/$name.out" >&2 || true
    die "$name did not start on port $port"
}

# --- origin and proxies -------------------------------------------------------------------

mkdir -p "$WORK/origin/bench" "$WORK/origin-tmp" "$WORK/nginx-tmp"
head -c 1024 /dev/urandom >"$WORK/origin/bench/obj-1k"
head -c $((1 << 20)) /dev/urandom >"$WORK/origin/bench/obj-1m"
truncate -s "$BIG_BYTES" "$WORK/origin/bench/big" # sparse: reads as zeros, costs no space
cp "$WORK/origin/bench/obj-1m" "$WORK/put-body"

NGINX_USER=""
if [[ $EUID -eq 0 ]]; then
    # nginx workers drop to www-data; what they write must be theirs.
    NGINX_USER="user www-data;"
    chown -R www-data: "$WORK/origin" "$WORK/origin-tmp" "$WORK/nginx-tmp"
fi

nginx_common() {
    cat <<EOF
$NGINX_USER
worker_processes 1;
pid $WORK/$1.pid;
error_log $WORK/$1.error.log warn;
events { worker_connections 4096; }
EOF
}

{
    nginx_common origin
    cat <<EOF
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $WORK/origin-tmp;
    proxy_temp_path $WORK/nginx-tmp/origin-proxy;
    fastcgi_temp_path $WORK/nginx-tmp/origin-fastcgi;
    uwsgi_temp_path $WORK/nginx-tmp/origin-uwsgi;
    scgi_temp_path $WORK/nginx-tmp/origin-scgi;
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $WORK/origin;
        client_max_body_size 0;
        # PUT stores the body (read whole into a temp file, then renamed), as a store would.
        dav_methods PUT;
        create_full_put_path on;
        location / { }
    }
}
EOF
} >"$WORK/origin.conf"

# Unbuffered, nginx moves responses through one proxy_buffer_size buffer (a memory page by
# default); NGINX_PROXY_BUFFER_SIZE=64k, say, measures it with a larger one.
NGINX_BUFFER_LINE=""
if [[ -n ${NGINX_PROXY_BUFFER_SIZE:-} ]]; then
    NGINX_BUFFER_LINE="proxy_buffer_size $NGINX_PROXY_BUFFER_SIZE;"
fi

{
    nginx_common nginx
    cat <<EOF
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $WORK/nginx-tmp/client;
    proxy_temp_path $WORK/nginx-tmp/proxy;
    fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
    scgi_temp_path $WORK/nginx-tmp/scgi;
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        client_max_body_size 0;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
            $NGINX_BUFFER_LINE
        }
    }
}
EOF
} >"$WORK/nginx.conf"

cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
frontend proxy
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend origin
backend origin
    http-reuse always
    server origin 127.0.0.1:$ORIGIN_PORT
EOF

# [log] level = "warn": no access-log line per request, so logging does not dominate.
cat >"$WORK/guestpass.toml" <<EOF
[server]
listen = "127.0.0.1:$GUESTPASS_PORT"
public_url = "http://127.0.0.1:$GUESTPASS_PORT"
drain_grace = "1s"
[auth]
region = "us-east-1"
[[credentials]]
access_key_id = "BENCHCLIENT"
secret_access_key = "bench-client-secret-not-secret"
[upstream]
endpoint = "http://127.0.0.1:$ORIGIN_PORT"
access_key_id = "BENCHUPSTREAM"
secret_access_key = "bench-upstream-secret-not-secret"
response_timeout = "300s"
pool_max_idle_per_host = 256
[log]
level = "warn"
EOF

log "starting the origin and the proxies (server core $SERVER_CPU, load generator core $CLIENT_CPU)"
start_server origin nginx -p "$WORK" -c "$WORK/origin.conf" -e "$WORK/origin.error.log" -g 'daemon off;'
start_server nginx nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx.error.log" -g 'daemon off;'
start_server haproxy haproxy -db -f "$WORK/haproxy.cfg"
# The runtime's worker count comes from TOKIO_WORKER_THREADS (multi-thread builder).
TOKIO_WORKER_THREADS=1 start_server guestpass "$GUESTPASS" serve --config "$WORK/guestpass.toml"
wait_port origin $ORIGIN_PORT
for t in "${TARGETS[@]}"; do wait_port "$t" "${PORT[$t]}"; done

# --- pre-signed URLs ----------------------------------------------------------------------

# mint FILE METHOD COUNT KEY...: COUNT distinct URLs (each lifetime differs by a second),
# keys used in turn, written as path?query.
mint() {
    local file=$1 method=$2 count=$3 i url
    shift 3
    local keys=("$@")
    : >"$file"
    for ((i = 0; i < count; i++)); do
        url=$("$GUESTPASS" presign --config "$WORK/guestpass.toml" --method "$method" \
            --expires "$((3600 + i))s" "s3://bench/${keys[i % ${#keys[@]}]}")
        echo "/${url#http://*/}" >>"$file"
    done
}

log "minting pre-signed URLs"
mint "$WORK/get-1k.urls" GET 1000 obj-1k
mint "$WORK/get-1m.urls" GET 100 obj-1m
mint "$WORK/put-1m.urls" PUT 64 put-1m-0 put-1m-1 put-1m-2 put-1m-3 put-1m-4 put-1m-5 put-1m-6 put-1m-7
mint "$WORK/big-get.urls" GET 1 big
mint "$WORK/big-put.urls" PUT 1 big-put

cat >"$WORK/walk.lua" <<'EOF'
-- wrk -s walk.lua URL -- PATHS_FILE [METHOD [BODY_FILE]]
-- Walks the paths (path?query lines) in turn; each request is built once, up front.
local reqs, n, i = {}, 0, 0

function init(args)
    local method, body = args[2] or "GET", nil
    if args[3] then
        local f = assert(io.open(args[3], "rb"))
        body = f:read("*a")
        f:close()
    end
    for line in io.lines(args[1]) do
        n = n + 1
        reqs[n] = wrk.format(method, line, nil, body)
    end
end

function request()
    i = i % n + 1
    return reqs[i]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%.0f p99_us=%.0f errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        e.connect + e.read + e.write + e.status + e.timeout))
end
EOF

# --- sanity: every target serves every workload, and guestpass really verifies ------------

first() { head -n 1 "$WORK/$1.urls"; }
for t in "${TARGETS[@]}"; do
    base="http://127.0.0.1:${PORT[$t]}"
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 10 "$base$(first get-1k)")
    [[ $got == "200 1024" ]] || die "$t: GET 1 KiB answered $got"
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Expect:' -T "$WORK/put-body" "$base$(first put-1m)")
    [[ $got == 20[014] ]] || die "$t: PUT 1 MiB answered $got"
done
bad=$(first get-1k | sed -E 's/X-Amz-Signature=[0-9a-f]{8}/X-Amz-Signature=deadbeef/')
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$GUESTPASS_PORT$bad")
[[ $got == 403 ]] || die "guestpass accepted a corrupted signature ($got)"
log "all targets answer; guestpass refuses a corrupted signature"

# --- wrk runs -----------------------------------------------------------------------------

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before the runs: $LOAD_BEFORE (other work on these cores makes the numbers noisy)"

# CPU time (user + system, 1/100 s) of a process and its children (an nginx master's
# worker), all threads included.
cpu_ticks() {
    local pid total=0
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# run WORKLOAD TARGET CONC OBJECT_BYTES METHOD [BODY_FILE]
run() {
    local workload=$1 target=$2 conc=$3 size=$4 method=$5 body=${6:-}
    local url="http://127.0.0.1:${PORT[$target]}/"
    local args=("$WORK/$workload.urls" "$method")
    [[ -n $body ]] && args+=("$body")
    taskset -c "$CLIENT_CPU" wrk -t1 -c "$conc" -d "${WARMUP}s" --timeout 10s -s "$WORK/walk.lua" "$url" -- "${args[@]}" >/dev/null
    local line proxy_before origin_before
    proxy_before=$(cpu_ticks "${PID[$target]}") origin_before=$(cpu_ticks "${PID[origin]}")
    line=$(taskset -c "$CLIENT_CPU" wrk -t1 -c "$conc" -d "${DURATION}s" --timeout 10s -s "$WORK/walk.lua" "$url" -- "${args[@]}" | grep '^RESULT') ||
        die "wrk failed against $target ($workload)"
    # req/s, p50 ms, p99 ms, MiB/s of objects, errors, then the CPU time the proxy and the
    # origin spent per request (microseconds; /proc ticks are 1/100 s).
    echo "$line" | awk -v w="$workload" -v t="$target" -v size="$size" \
        -v proxy="$(($(cpu_ticks "${PID[$target]}") - proxy_before))" -v origin="$(($(cpu_ticks "${PID[origin]}") - origin_before))" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n = v["requests"]; ok = n - v["errors"]; s = v["duration_us"] / 1e6
        printf "%s\t%s\t%.0f\t%.2f\t%.2f\t%.1f\t%d\t%.1f\t%.1f\n", w, t, n / s, v["p50_us"] / 1000, v["p99_us"] / 1000,
            ok * size / s / 1048576, v["errors"], proxy * 1e4 / n, origin * 1e4 / n
    }' >>"$RESULTS"
    tail -n 1 "$RESULTS" | awk -F'\t' '{ printf "  %-9s %9s req/s  p50 %7s ms  p99 %7s ms  %8s MiB/s  errors %s  CPU/req: proxy %s us, origin %s us\n", $2, $3, $4, $5, $6, $7, $8, $9 }' >&2
}

for spec in "get-1k $CONC_SMALL 1024 GET" "get-1m $CONC_LARGE 1048576 GET" "put-1m $CONC_LARGE 1048576 PUT $WORK/put-body"; do
    read -r workload conc size method body <<<"$spec"
    log "$workload: ${DURATION}s per target after ${WARMUP}s warm-up, $conc connections"
    for t in "${TARGETS[@]}"; do
        run "$workload" "$t" "$conc" "$size" "$method" "${body:-}"
    done
    awk -F'\t' -v w="$workload" '$1 == w { rps[$2] = $3; p99[$2] = $5; mbs[$2] = $6 }
        END { for (i = 1; i <= 2; i++) { t = (i == 1 ? "nginx" : "haproxy")
            printf "  guestpass/%-7s req/s %.2f  p99 %.2f  MiB/s %.2f\n", t, rps["guestpass"] / rps[t], p99["guestpass"] / p99[t], mbs["guestpass"] / mbs[t] } }' "$RESULTS" >&2
done

# --- optional: where guestpass's time goes under the 1 KiB GET load ----------------------

PROFILE_TXT=""
if [[ ${PROFILE:-0} == 1 ]]; then
    if command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
        log "PROFILE=1: sampling guestpass with perf (cpu-clock) during one more 1 KiB GET run"
        perf record -e cpu-clock -F 999 -p "${PID[guestpass]}" -o "$WORK/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
        prof=$!
        taskset -c "$CLIENT_CPU" wrk -t1 -c "$CONC_SMALL" -d "${DURATION}s" --timeout 10s -s "$WORK/walk.lua" \
            "http://127.0.0.1:$GUESTPASS_PORT/" -- "$WORK/get-1k.urls" GET >/dev/null
        wait "$prof" || true
        PROFILE_TXT="$WORK/perf-guestpass-get-1k.txt"
        perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --percent-limit 0.5 --stdio 2>/dev/null |
            grep -v '^#' | grep -v '^$' | cut -c1-160 >"$PROFILE_TXT" || true
        head -n 25 "$PROFILE_TXT" >&2
    else
        log "PROFILE=1: perf is not usable here (apt-get install linux-perf; kernel.perf_event_paranoid)"
    fi
fi

# --- 2 GiB through each proxy, guestpass's RSS sampled ------------------------------------

# Samples VmRSS (KiB) of PID every 50 ms into FILE until killed (at most 10 minutes).
sample_rss() {
    local pid=$1 file=$2 i
    for ((i = 0; i < 12000; i++)); do
        awk '/^VmRSS/ {print $2}' "/proc/$pid/status" >>"$file" 2>/dev/null || return 0
        sleep 0.05
    done
}

BIG="$WORK/big.tsv"
: >"$BIG"
for t in "${TARGETS[@]}"; do
    base="http://127.0.0.1:${PORT[$t]}"
    for dir in get put; do
        rss_file="$WORK/rss-$t-$dir"
        : >"$rss_file"
        rss_before=""
        if [[ $t == guestpass ]]; then
            rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/${PID[guestpass]}/status")
            # Reset VmHWM so it covers this transfer only.
            echo 5 >"/proc/${PID[guestpass]}/clear_refs" 2>/dev/null || true
            sample_rss "${PID[guestpass]}" "$rss_file" &
            SAMPLER=$!
        fi
        if [[ $dir == get ]]; then
            got=$(taskset -c "$CLIENT_CPU" curl -sS -o /dev/null --max-time 300 \
                -w '%{http_code} %{time_total} %{size_download}' "$base$(first big-get)") || true
        else
            # A declared length, as S3 clients send (curl would otherwise send it chunked).
            got=$(head -c "$BIG_BYTES" /dev/zero | taskset -c "$CLIENT_CPU" curl -sS -o /dev/null --max-time 300 \
                -H "Content-Length: $BIG_BYTES" -H 'Transfer-Encoding:' -H 'Expect:' -T - \
                -w '%{http_code} %{time_total} %{size_upload}' "$base$(first big-put)") || true
        fi
        rss_peak="" hwm=""
        if [[ $t == guestpass ]]; then
            kill "$SAMPLER" 2>/dev/null || true
            wait "$SAMPLER" 2>/dev/null || true
            SAMPLER=""
            rss_peak=$(sort -n "$rss_file" | tail -n 1)
            hwm=$(awk '/^VmHWM/ {print $2}' "/proc/${PID[guestpass]}/status")
        fi
        read -r code secs bytes <<<"$got"
        [[ $code == 20[014] && $bytes == "$BIG_BYTES" ]] || die "$t: 2 GiB $dir answered $got"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$dir" \
            "$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1048576 }')" "$rss_before" "${rss_peak:-}" "${hwm:-}" >>"$BIG"
        tail -n 1 "$BIG" | awk -F'\t' '{ printf "  2 GiB %s via %-9s %6s MiB/s%s\n", $2, $1, $3, ($4 == "" ? "" : sprintf("  guestpass RSS before %.1f MiB, peak %.1f MiB sampled, VmHWM %.1f MiB", $4 / 1024, $5 / 1024, $6 / 1024)) }' >&2
    done
done
rm -f "$WORK/origin/bench/big-put"

# --- report -------------------------------------------------------------------------------

mkdir -p "$OUT"
cp "$RESULTS" "$OUT/results.tsv"
cp "$BIG" "$OUT/big.tsv"
if [[ -n $PROFILE_TXT ]]; then cp "$PROFILE_TXT" "$OUT/"; fi
# For profiling by hand (benches/README.md): what was run, and the URLs it was run with.
mkdir -p "$OUT/setup"
cp "$WORK"/{origin.conf,nginx.conf,haproxy.cfg,guestpass.toml,walk.lua} "$WORK"/*.urls "$OUT/setup/"
field() { awk -F'\t' -v w="$1" -v t="$2" -v c="$3" '$1 == w && $2 == t { print $c }' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
big_field() { awk -F'\t' -v t="$1" -v d="$2" -v c="$3" '$1 == t && $2 == d { print $c }' "$BIG"; }

{
    echo "guestpass $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'), $(nginx -v 2>&1 | sed 's/.*version: //'), $(haproxy -v | head -n 1 | awk '{print "HAProxy/" $3}'), wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}')"
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load average before the runs: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "Servers and origin pinned to core $SERVER_CPU (one worker each), wrk on core $CLIENT_CPU, ${DURATION}s per run after ${WARMUP}s warm-up, $CONC_SMALL connections (1 KiB) and $CONC_LARGE (1 MiB); MiB/s counts object bytes; nginx proxy_buffer_size ${NGINX_PROXY_BUFFER_SIZE:-default}."
    echo
    echo "| workload | target | req/s | p50 ms | p99 ms | MiB/s | errors | CPU µs/req proxy + origin | guestpass/this req/s (MiB/s) | guestpass/this p99 |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for w in get-1k get-1m put-1m; do
        for t in "${TARGETS[@]}"; do
            rps=$(field "$w" "$t" 3) p50=$(field "$w" "$t" 4) p99=$(field "$w" "$t" 5) mbs=$(field "$w" "$t" 6) err=$(field "$w" "$t" 7)
            cpu="$(field "$w" "$t" 8) + $(field "$w" "$t" 9)"
            r1="" r2=""
            if [[ $t != guestpass ]]; then
                r1=$(ratio "$(field "$w" guestpass 3)" "$rps")
                r2=$(ratio "$(field "$w" guestpass 5)" "$p99")
            fi
            echo "| $w | $t | $rps | $p50 | $p99 | $mbs | $err | $cpu | $r1 | $r2 |"
        done
    done
    echo
    echo "| 2 GiB streamed | nginx MiB/s | haproxy MiB/s | guestpass MiB/s | guestpass RSS before | guestpass peak RSS (sampled / VmHWM) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for d in get put; do
        printf '| %s | %s | %s | %s | %s | %s |\n' "${d^^}" "$(big_field nginx "$d" 3)" "$(big_field haproxy "$d" 3)" "$(big_field guestpass "$d" 3)" \
            "$(awk -v a="$(big_field guestpass "$d" 4)" 'BEGIN { printf "%.1f MiB", a / 1024 }')" \
            "$(awk -v a="$(big_field guestpass "$d" 5)" -v b="$(big_field guestpass "$d" 6)" 'BEGIN { printf "%.1f MiB / %.1f MiB", a / 1024, b / 1024 }')"
    done
} >"$OUT/results.md"

echo
cat "$OUT/results.md"
echo
log "done; the table is in ${OUT#"$ROOT"/}/results.md"
