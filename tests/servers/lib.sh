# Shared helpers for the server scripts (sourced, not run).
# Each script: NAME.sh start|stop|status DIR PORT
# - start: writes a private config into DIR, starts the server in the
#   background (pid in DIR/server.pid, log in DIR/<name>.log), waits until
#   127.0.0.1:PORT accepts connections (bounded by START_TIMEOUT, default 20 s)
#   and fails loudly (exit 1, log tail on stderr) otherwise.
# - stop: SIGTERM to the pid, waits (bounded), then SIGKILL.
# - status: exit 0 if the pid is alive and the port accepts connections.

set -u

die() {
    echo "$SERVER_NAME: $*" >&2
    exit 1
}

usage_check() {
    [ $# -eq 3 ] || die "usage: $0 start|stop|status DIR PORT"
    case "$1" in start|stop|status) ;; *) die "usage: $0 start|stop|status DIR PORT" ;; esac
    case "$3" in ''|*[!0-9]*) die "PORT must be a number, got '$3'" ;; esac
}

port_open() { # port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# listening_by PID PORT: 127.0.0.1:PORT is a listening socket of process PID.
# Uses ss (iproute2) so that a foreign listener on the same port does not
# count as ready; without ss, falls back to "the port accepts connections".
listening_by() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
    else
        port_open "$2"
    fi
}

# Refuse to start on a port something else already listens on.
port_free_or_die() { # port
    if port_open "$1"; then
        die "port 127.0.0.1:$1 is already in use"
    fi
}

pid_alive() { # pidfile
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

log_tail() { # logfile...
    for f in "$@"; do
        [ -f "$f" ] || continue
        echo "----- last lines of $f -----" >&2
        tail -n 40 "$f" >&2
    done
}

# wait_ready PIDFILE PORT LOG...: wait until the port accepts connections
# while the process is alive.
wait_ready() {
    local pidfile=$1 port=$2; shift 2
    local timeout=${START_TIMEOUT:-20} i=0
    while [ $i -lt $((timeout * 10)) ]; do
        if ! pid_alive "$pidfile"; then
            echo "$SERVER_NAME: server process exited during start-up" >&2
            log_tail "$@"
            exit 1
        fi
        if listening_by "$(cat "$pidfile")" "$port" && port_open "$port"; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "$SERVER_NAME: port 127.0.0.1:$port not accepting connections after ${timeout}s" >&2
    log_tail "$@"
    stop_pid "$pidfile"
    exit 1
}

# stop_pid PIDFILE: SIGTERM, wait up to STOP_TIMEOUT (default 10 s), SIGKILL.
stop_pid() {
    local pidfile=$1 pid i=0
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null && [ $i -lt $((${STOP_TIMEOUT:-10} * 10)) ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$SERVER_NAME: pid $pid did not stop after SIGTERM, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$pidfile"
}

status_of() { # pidfile port
    if pid_alive "$1" && port_open "$2"; then
        echo "$SERVER_NAME: running, pid $(cat "$1"), port $2"
        return 0
    fi
    echo "$SERVER_NAME: not running"
    return 1
}

# Make DIR (absolute) exist and be traversable by unprivileged daemon users.
prepare_dir() {
    mkdir -p "$1" || die "cannot create $1"
    DIR=$(cd "$1" && pwd)
    chmod 755 "$DIR"
    local d=$DIR
    while [ "$d" != "/" ]; do
        d=$(dirname "$d")
        chmod o+x "$d" 2>/dev/null || true
    done
}
