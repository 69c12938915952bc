#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL 15 server for the test suite.
#
#   scripts/start-postgres.sh          start/reuse; prints ONE line on stdout: the SQLAlchemy URL
#   scripts/start-postgres.sh stop     stop it
#   scripts/start-postgres.sh status   say whether it is running (exit 0 if it accepts connections)
#
# Environment:
#   CW_PG_DIR         data directory            (default /tmp/codewalkers-pg)
#   CW_PG_PORT        TCP port on 127.0.0.1     (default 54329)
#   CW_PG_SOCKET_DIR  unix socket directory     (default /tmp)
#   CW_PG_BINDIR      PostgreSQL bin directory  (default: autodetected, PostgreSQL 15 preferred)
#   CW_PG_INSTALL     when root and no server binaries are found, apt-get install
#                     postgresql-15 (default 1; set 0 to never install)
#
# The cluster is throwaway: trust authentication, fsync off, listening on 127.0.0.1 only.
# A broken or stale data directory is wiped and re-initialised. When run as root, the
# cluster is owned by and runs as the `postgres` system user.
#
# Everything except the URL goes to stderr; any failure exits non-zero with the server log tail.
set -euo pipefail

# Keep the real stdout on fd 3 for the URL only; everything else goes to stderr.
exec 3>&1 1>&2

DB_NAME=codewalkers_test
PG_MAJOR=15
PGDATA_DIR="${CW_PG_DIR:-/tmp/codewalkers-pg}"
PORT="${CW_PG_PORT:-54329}"
SOCKET_DIR="${CW_PG_SOCKET_DIR:-/tmp}"
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/${DB_NAME}"

# Our own commands always say where to connect; don't let the caller's libpq settings interfere.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE \
    PGSERVICEFILE PGSSLMODE PGOPTIONS PGDATA PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS || true
export PGCONNECT_TIMEOUT=5

log() { printf 'start-postgres: %s\n' "$*" >&2; }

LOGFILE=""
log_tail() {
    if [[ -n "$LOGFILE" && -s "$LOGFILE" ]]; then
        printf -- '----- last 40 lines of %s -----\n' "$LOGFILE" >&2
        tail -n 40 -- "$LOGFILE" >&2 || true
        printf -- '----- end of server log -----\n' >&2
    else
        log "(no server log at ${LOGFILE:-<unknown>})"
    fi
}

die() {
    printf '\n!!! start-postgres: ERROR: %s\n' "$*" >&2
    log_tail
    printf '!!! start-postgres: PostgreSQL test server NOT available (data dir %s, port %s)\n' \
        "$PGDATA_DIR" "$PORT" >&2
    exit 1
}

[[ "$PORT" =~ ^[0-9]+$ ]] || die "CW_PG_PORT must be a number, got '$PORT'"
case "$PGDATA_DIR" in
    /*) ;;
    *) PGDATA_DIR="$(pwd)/$PGDATA_DIR" ;;
esac
PGDATA_DIR="${PGDATA_DIR%/}"
case "$PGDATA_DIR" in
    "" | / | /tmp | /var | /var/tmp | /usr | /home | /root | /etc | /opt | /srv | /work)
        die "refusing to use '$PGDATA_DIR' as a throwaway data directory; set CW_PG_DIR to a dedicated path" ;;
esac
LOGFILE="${PGDATA_DIR}.log"
LOCKFILE="${PGDATA_DIR}.lock"

IS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && IS_ROOT=1
PG_OS_USER="$(id -un)"
[[ $IS_ROOT -eq 1 ]] && PG_OS_USER=postgres

# ---------------------------------------------------------------------------- binaries

bindir_major() { # print the major version of the initdb in $1, or nothing
    local v
    v="$("$1/initdb" --version 2>/dev/null || true)" # "initdb (PostgreSQL) 15.18 (Debian ...)"
    v="${v#*) }"
    printf '%s' "${v%%.*}"
}

find_bindir() {
    local d
    if [[ -n "${CW_PG_BINDIR:-}" ]]; then
        printf '%s' "$CW_PG_BINDIR"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && "$(bindir_major "$d")" == "$PG_MAJOR" ]]; then
            printf '%s' "$d"
            return 0
        fi
    fi
    d="/usr/lib/postgresql/${PG_MAJOR}/bin"
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
        printf '%s' "$d"
        return 0
    fi
    if command -v initdb >/dev/null 2>&1; then
        d="$(dirname -- "$(readlink -f -- "$(command -v initdb)")")"
        if [[ -x "$d/pg_ctl" ]]; then
            printf '%s' "$d"
            return 0
        fi
    fi
    return 1
}

if ! BINDIR="$(find_bindir)"; then
    if [[ $IS_ROOT -eq 1 && "${CW_PG_INSTALL:-1}" != 0 && "${1:-start}" == start ]] \
        && command -v apt-get >/dev/null 2>&1; then
        log "no PostgreSQL server binaries found; installing postgresql-${PG_MAJOR} with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq </dev/null >&2 || log "apt-get update failed (continuing)"
        apt-get install -y -qq "postgresql-${PG_MAJOR}" </dev/null >&2 \
            || apt-get install -y -qq postgresql </dev/null >&2 \
            || die "apt-get could not install PostgreSQL server packages"
    fi
    BINDIR="$(find_bindir)" || die "no PostgreSQL server binaries (initdb, pg_ctl) found: looked at 'pg_config --bindir', /usr/lib/postgresql/${PG_MAJOR}/bin and PATH (set CW_PG_BINDIR)"
fi
for b in initdb pg_ctl postgres; do
    [[ -x "$BINDIR/$b" ]] || die "$BINDIR/$b is missing or not executable"
done
MAJOR="$(bindir_major "$BINDIR")"
[[ "$MAJOR" == "$PG_MAJOR" ]] || log "WARNING: using PostgreSQL $MAJOR from $BINDIR (wanted $PG_MAJOR)"

client_bin() { # psql / pg_isready / createdb: same bin dir first, then PATH
    if [[ -x "$BINDIR/$1" ]]; then
        printf '%s' "$BINDIR/$1"
    elif command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    else
        return 1
    fi
}
PSQL="$(client_bin psql)" || die "psql not found (neither in $BINDIR nor on PATH)"
PG_ISREADY="$(client_bin pg_isready || true)"

# ---------------------------------------------------------------------------- helpers

# Run a server-side command as the cluster owner, from a directory it can read, with no
# inherited extra descriptors (a postmaster holding fd 3 would keep "$(start-postgres.sh)" waiting).
as_pg() {
    if [[ $IS_ROOT -eq 1 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && exec runuser -u postgres -- env LC_ALL=C "$@") </dev/null 3>&- 9>&-
        else
            local q
            q="$(printf '%q ' "$@")"
            (cd / && exec su -s /bin/sh postgres -c "LC_ALL=C exec $q") </dev/null 3>&- 9>&-
        fi
    else
        (cd / && exec env LC_ALL=C "$@") </dev/null 3>&- 9>&-
    fi
}

ensure_pg_user() {
    [[ $IS_ROOT -eq 1 ]] || return 0
    if ! id -u postgres >/dev/null 2>&1; then
        log "creating system user 'postgres'"
        useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
            --shell /bin/sh postgres || die "could not create the 'postgres' system user"
    fi
}

# 0 = accepting connections on 127.0.0.1:$PORT
server_ready() {
    if [[ -n "$PG_ISREADY" ]]; then
        "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 3 </dev/null 3>&- 9>&-
    else
        "$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc 'select 1' \
            </dev/null >/dev/null 2>&1 3>&- 9>&-
    fi
}

wait_ready() { # $1 = seconds
    local i
    for ((i = 0; i < $1 * 2; i++)); do
        server_ready && return 0
        sleep 0.5
    done
    return 1
}

# PID of the postmaster that really runs on our data dir, if any.
our_postmaster_pid() {
    local pid cwd
    [[ -f "$PGDATA_DIR/postmaster.pid" ]] || return 1
    pid="$(head -n 1 -- "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || [[ -d "/proc/$pid" ]] || return 1
    # A zombie (killed postmaster not reaped by a container's init) is not a server.
    if [[ -r "/proc/$pid/stat" ]]; then
        case "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" in
            Z | X | x) return 1 ;;
        esac
    fi
    # A reused PID (common in containers) must not be mistaken for our server.
    if [[ -r "/proc/$pid/comm" ]]; then
        case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
            postgres | postmaster) ;;
            *) return 1 ;;
        esac
        cwd="$(readlink -f "/proc/$pid/cwd" 2>/dev/null || true)"
        if [[ -n "$cwd" && "$cwd" != "$(readlink -f -- "$PGDATA_DIR")" ]]; then
            return 1
        fi
    fi
    printf '%s' "$pid"
}

stop_server() {
    local pid
    if pid="$(our_postmaster_pid)"; then
        log "stopping PostgreSQL (pid $pid, data dir $PGDATA_DIR)"
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop >&2 \
            || as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 15 stop >&2 \
            || { kill -KILL "$pid" 2>/dev/null || true; sleep 1; }
        if our_postmaster_pid >/dev/null; then
            return 1
        fi
    fi
    return 0
}

wipe_datadir() {
    if [[ -d "$PGDATA_DIR" ]] && [[ -n "$(ls -A -- "$PGDATA_DIR" 2>/dev/null)" ]] \
        && [[ ! -e "$PGDATA_DIR/PG_VERSION" && ! -e "$PGDATA_DIR/.codewalkers-pg" ]]; then
        die "$PGDATA_DIR exists, is not empty and is not a PostgreSQL data directory; refusing to wipe it (set CW_PG_DIR elsewhere or remove it)"
    fi
    log "wiping $PGDATA_DIR (throwaway test cluster)"
    rm -rf -- "$PGDATA_DIR" || die "could not remove $PGDATA_DIR"
}

datadir_ok() {
    [[ -f "$PGDATA_DIR/PG_VERSION" && -f "$PGDATA_DIR/global/pg_control" \
        && -f "$PGDATA_DIR/postgresql.conf" ]] || return 1
    [[ "$(cat "$PGDATA_DIR/PG_VERSION" 2>/dev/null)" == "$MAJOR" ]] || return 1
    [[ -f "$PGDATA_DIR/codewalkers.conf" ]] || return 1
}

prepare_logfile() {
    if [[ ! -e "$LOGFILE" ]]; then
        : >"$LOGFILE" || die "cannot create server log $LOGFILE"
    fi
    [[ $IS_ROOT -eq 1 ]] && chown postgres: "$LOGFILE"
    chmod 0644 "$LOGFILE" 2>/dev/null || true
}

write_config() {
    # Settings live in their own file so that a changed CW_PG_PORT applies on the next start.
    cat >"$PGDATA_DIR/codewalkers.conf" <<CONF || die "cannot write $PGDATA_DIR/codewalkers.conf"
# Written by scripts/start-postgres.sh on every start: throwaway test server.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
CONF
    cat >"$PGDATA_DIR/pg_hba.conf" <<HBA || die "cannot write $PGDATA_DIR/pg_hba.conf"
# Written by scripts/start-postgres.sh: throwaway test server, trust on loopback only.
local   all   all                  trust
host    all   all   127.0.0.1/32   trust
host    all   all   ::1/128        trust
HBA
    if [[ $IS_ROOT -eq 1 ]]; then
        chown postgres: "$PGDATA_DIR/codewalkers.conf" "$PGDATA_DIR/pg_hba.conf"
    fi
    chmod 0600 "$PGDATA_DIR/codewalkers.conf" "$PGDATA_DIR/pg_hba.conf"
}

init_cluster() {
    local parent
    parent="$(dirname -- "$PGDATA_DIR")"
    mkdir -p -- "$PGDATA_DIR" || die "cannot create $PGDATA_DIR"
    if [[ $IS_ROOT -eq 1 ]]; then
        chown postgres: "$PGDATA_DIR"
        as_pg test -x "$parent" -a -w "$PGDATA_DIR" \
            || die "user postgres cannot reach $PGDATA_DIR (is a parent directory closed to others?); set CW_PG_DIR to a path under /tmp"
    fi
    chmod 0700 "$PGDATA_DIR"
    log "initialising cluster in $PGDATA_DIR (initdb from $BINDIR, owner $PG_OS_USER)"
    as_pg "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C --auth=trust --no-sync >&2 \
        || die "initdb failed for $PGDATA_DIR"
    printf "\n# scripts/start-postgres.sh settings\ninclude_if_exists = 'codewalkers.conf'\n" \
        >>"$PGDATA_DIR/postgresql.conf" || die "cannot edit $PGDATA_DIR/postgresql.conf"
    : >"$PGDATA_DIR/.codewalkers-pg"
    write_config
    if [[ $IS_ROOT -eq 1 ]]; then
        chown -R postgres: "$PGDATA_DIR"
    fi
}

start_cluster() {
    prepare_logfile
    write_config
    printf '\n===== %s: start-postgres.sh starting server on port %s =====\n' "$(date -u '+%F %T UTC')" "$PORT" >>"$LOGFILE"
    as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$LOGFILE" -w -t 30 start >&2
}

# The server log of the latest start attempt only.
last_attempt_log() {
    awk '/^===== .* start-postgres.sh starting server/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
        "$LOGFILE" 2>/dev/null || true
}

port_listening() { # something accepts TCP connections on 127.0.0.1:$PORT
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash
    timeout 3 bash -c ': <>"/dev/tcp/127.0.0.1/$1"' _ "$PORT" 2>/dev/null 3>&- 9>&-
}

# pg_ctl start, retrying while the port is only held by TIME_WAIT sockets: the default port
# lies inside Linux's ephemeral port range (32768-60999), so a recently closed *client*
# connection may briefly own it as its source port ("could not bind ... Address already in use").
start_with_retry() {
    local deadline=$((SECONDS + 75)) told=0
    while true; do
        start_cluster && return 0
        if our_postmaster_pid >/dev/null; then
            # Started but slow (e.g. crash recovery): give it more time before giving up.
            log "server process is up but not ready yet; waiting up to 30 s more"
            wait_ready 30 && return 0
            return 1
        fi
        if last_attempt_log | grep -qE 'could not bind|Address already in use|could not create lock file'; then
            if port_listening; then
                die "port $PORT on 127.0.0.1 is taken by another process (not the server of $PGDATA_DIR); set CW_PG_PORT"
            fi
            if ((SECONDS < deadline)); then
                ((told++ % 5 == 0)) && log "port $PORT is held by a closed connection (TIME_WAIT); retrying for up to 75 s"
                sleep 3
                continue
            fi
            die "port $PORT stayed unavailable for 75 s; set CW_PG_PORT"
        fi
        return 1
    done
}

ensure_database() {
    local exists
    exists="$("$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
        "select 1 from pg_database where datname = '$DB_NAME'" </dev/null 3>&- 9>&-)" \
        || die "server on 127.0.0.1:$PORT is up but 'psql -U postgres' cannot query it (another server with password auth on this port?)"
    if [[ "$exists" != 1 ]]; then
        log "creating database $DB_NAME"
        "$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
            -c "create database $DB_NAME" </dev/null >&2 3>&- 9>&- \
            || {
                # A concurrent run may have created it meanwhile.
                exists="$("$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
                    "select 1 from pg_database where datname = '$DB_NAME'" </dev/null 3>&- 9>&- || true)"
                [[ "$exists" == 1 ]] || die "could not create database $DB_NAME"
            }
    fi
    "$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d "$DB_NAME" -tAc 'select 1' \
        </dev/null >/dev/null 3>&- 9>&- || die "cannot connect to database $DB_NAME"
}

take_lock() {
    # Serialise concurrent invocations (best effort: skipped if flock or the lock path is unavailable).
    command -v flock >/dev/null 2>&1 || return 0
    { : >>"$LOCKFILE"; } 2>/dev/null || return 0
    exec 9>>"$LOCKFILE"
    flock -w 120 9 || die "timed out waiting for lock $LOCKFILE"
}

# ---------------------------------------------------------------------------- commands

cmd_status() {
    if server_ready; then
        log "accepting connections on 127.0.0.1:$PORT (data dir $PGDATA_DIR)"
        return 0
    fi
    log "not accepting connections on 127.0.0.1:$PORT (data dir $PGDATA_DIR)"
    return 1
}

cmd_stop() {
    take_lock
    if ! our_postmaster_pid >/dev/null; then
        if server_ready; then
            log "WARNING: something answers on 127.0.0.1:$PORT but it is not the server of $PGDATA_DIR; not stopping it"
        else
            log "not running (data dir $PGDATA_DIR)"
        fi
        return 0
    fi
    stop_server || die "could not stop the server on $PGDATA_DIR"
    log "stopped"
}

cmd_start() {
    local pid
    take_lock
    ensure_pg_user
    log "PostgreSQL binaries: $BINDIR ($("$BINDIR/postgres" --version 2>/dev/null || echo '?'))"

    if server_ready; then
        if our_postmaster_pid >/dev/null; then
            log "reusing running server on 127.0.0.1:$PORT (data dir $PGDATA_DIR)"
        else
            log "WARNING: a PostgreSQL server that is not $PGDATA_DIR already answers on 127.0.0.1:$PORT; reusing it"
        fi
        ensure_database
        printf '%s\n' "$URL" >&3
        return 0
    fi

    # Nothing answers on the port. Is our postmaster alive but stuck or on another port?
    if pid="$(our_postmaster_pid)"; then
        local pid_port
        pid_port="$(sed -n 4p -- "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
        log "server process $pid runs on $PGDATA_DIR (port ${pid_port:-?}) but does not answer on 127.0.0.1:$PORT"
        if [[ "$pid_port" == "$PORT" ]] && { log "waiting up to 30 s for it"; wait_ready 30; }; then
            ensure_database
            printf '%s\n' "$URL" >&3
            return 0
        fi
        log "still not answering; restarting it"
        stop_server || die "could not stop unresponsive server (pid $pid) on $PGDATA_DIR"
    elif [[ -e "$PGDATA_DIR/postmaster.pid" ]]; then
        log "removing stale $PGDATA_DIR/postmaster.pid (no such server process)"
        rm -f -- "$PGDATA_DIR/postmaster.pid"
    fi

    if [[ -d "$PGDATA_DIR" ]] && ! datadir_ok; then
        log "$PGDATA_DIR is not a usable PostgreSQL $MAJOR cluster made by this script"
        wipe_datadir
    fi
    if [[ ! -d "$PGDATA_DIR" ]]; then
        init_cluster
    elif [[ $IS_ROOT -eq 1 ]]; then
        chown -R postgres: "$PGDATA_DIR"
        chmod 0700 "$PGDATA_DIR"
    elif [[ ! -O "$PGDATA_DIR" ]]; then
        die "$PGDATA_DIR is not owned by $(id -un); remove it or set CW_PG_DIR"
    fi

    if ! start_with_retry; then
        log "pg_ctl start failed; server log tail follows, then the cluster is re-initialised"
        log_tail
        stop_server || true
        wipe_datadir
        init_cluster
        start_with_retry || die "pg_ctl start failed even on a freshly initialised cluster"
    fi

    wait_ready 30 || die "server started but does not accept connections on 127.0.0.1:$PORT within 30 s"
    ensure_database
    log "ready: $URL"
    printf '%s\n' "$URL" >&3
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    -h | --help | help)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
        ;;
    *)
        log "unknown command '$1' (use: start | stop | status)"
        exit 2
        ;;
esac
