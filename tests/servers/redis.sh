#!/bin/bash
# Redis on 127.0.0.1:PORT, no persistence (--save "" --appendonly no), for the shared
# reauthentication store (tests/redis_store.rs, examples/farm.rs). Everything it
# writes stays in DIR: config, pid, log; a restart starts empty.
# Env: START_TIMEOUT (20), STOP_TIMEOUT (10).
SERVER_NAME=redis
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/server.pid LOG=$DIR/redis.log

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    command -v redis-server >/dev/null || die "redis-server not installed (apt-get install redis-server)"
    cat > "$DIR/redis.conf" <<CONF
bind 127.0.0.1
protected-mode yes
port $PORT
unixsocket ""
dir $DIR
logfile $LOG
save ""
appendonly no
daemonize no
CONF
    # Not daemonized: the pid we record is the server's own.
    redis-server "$DIR/redis.conf" >>"$LOG" 2>&1 </dev/null &
    echo $! > "$PIDFILE"
    wait_ready "$PIDFILE" "$PORT" "$LOG"
    echo "redis: running, pid $(cat "$PIDFILE"), port $PORT, dir $DIR"
    ;;
stop)
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
