# shellcheck shell=bash
# Sourced by scripts/interop and by each suite's `run`: builds guestpass and starts it on its
# embedded default (s3s-fs store in a temporary folder, the demo credential, bucket "demo") on a
# free loopback port. The suites find it through these variables:
#   GUESTPASS_INTEROP_ENDPOINT     http://127.0.0.1:PORT
#   GUESTPASS_INTEROP_ACCESS_KEY   the demo access key id
#   GUESTPASS_INTEROP_SECRET_KEY   the demo secret (public, see src/config: never used in production)
#   GUESTPASS_INTEROP_BUCKET       demo
# Expects to be sourced from the repository root.

# GUESTPASS_INTEROP_BIN, if set, names a guestpass binary to use instead of building one.
interop_build_gateway() {
  local flags=()
  if [[ -n ${GUESTPASS_INTEROP_BIN:-} ]]; then
    [[ -x $GUESTPASS_INTEROP_BIN ]] || {
      echo "interop: GUESTPASS_INTEROP_BIN=$GUESTPASS_INTEROP_BIN is not an executable" >&2
      return 1
    }
    return 0
  fi
  [[ ${CI:-} == true ]] && flags+=(--locked)
  printf '\n==> cargo build %s\n' "${flags[*]}" >&2
  cargo build "${flags[@]}" --bin guestpass >&2
  GUESTPASS_INTEROP_BIN=$PWD/target/debug/guestpass
}

# A port the kernel just handed out on 127.0.0.1; another process could take it before the
# gateway binds it, so interop_start_gateway retries with a new one if the gateway exits.
interop_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True once something on 127.0.0.1:$1 answers HTTP (any status: the gateway refuses an
# unsigned request, which is an answer). Bounded by read's timeout.
interop_http_answers() {
  local line=''
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /demo/ HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" >&3 || true
  IFS= read -r -t 5 line <&3 || true
  exec 3<&- 3>&-
  [[ $line == HTTP/1.* ]]
}

interop_stop_gateway() {
  local pid=${GUESTPASS_INTEROP_PID:-} i
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  GUESTPASS_INTEROP_PID=
  if [[ -n ${GUESTPASS_INTEROP_TMP:-} ]]; then
    rm -rf "$GUESTPASS_INTEROP_TMP"
    GUESTPASS_INTEROP_TMP=
  fi
}

# Prints the end of the gateway's log: called when a suite failed, so CI shows why.
interop_gateway_log_tail() {
  local log=${GUESTPASS_INTEROP_TMP:-}/gateway.log
  [[ -f $log ]] || return 0
  printf '\n==> last lines of the gateway log (%s)\n' "$log" >&2
  tail -n 60 "$log" >&2
}

interop_start_gateway() {
  local bin=${GUESTPASS_INTEROP_BIN:?interop_build_gateway first} attempt port i pid
  GUESTPASS_INTEROP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/guestpass-interop.XXXXXX")
  trap interop_stop_gateway EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for ((attempt = 1; attempt <= 3; attempt++)); do
    port=$(interop_free_port)
    rm -rf "$GUESTPASS_INTEROP_TMP/data"
    NO_COLOR=1 "$bin" serve --data-dir "$GUESTPASS_INTEROP_TMP/data" --listen "127.0.0.1:$port" \
      >"$GUESTPASS_INTEROP_TMP/gateway.log" 2>&1 &
    pid=$!
    GUESTPASS_INTEROP_PID=$pid
    # Up to 30 s: a debug build starting its embedded store on a busy 2-core CI machine.
    for ((i = 0; i < 300; i++)); do
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      if interop_http_answers "$port"; then
        export GUESTPASS_INTEROP_ENDPOINT=http://127.0.0.1:$port
        export GUESTPASS_INTEROP_ACCESS_KEY=GUESTPASSDEMO
        export GUESTPASS_INTEROP_SECRET_KEY=guestpass-demo-secret-not-for-production
        export GUESTPASS_INTEROP_BUCKET=demo
        printf '==> guestpass (embedded store) is serving on %s\n' "$GUESTPASS_INTEROP_ENDPOINT" >&2
        return 0
      fi
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "interop: guestpass did not answer on 127.0.0.1:$port within 30 s" >&2
      interop_gateway_log_tail
      return 1
    fi
    wait "$pid" 2>/dev/null || true
    echo "interop: guestpass exited on start (attempt $attempt, port $port)" >&2
    interop_gateway_log_tail
  done
  return 1
}
