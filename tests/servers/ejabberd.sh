#!/bin/bash
# ejabberd 23.01 XMPP (no TLS) on 127.0.0.1:PORT, virtual host "localhost",
# internal auth with plaintext passwords so DIGEST-MD5 is offered.
# Users: alice/secret, bob/b0b-p@ss.
# The Erlang distribution listens on 127.0.0.1:PORT+1 (no epmd).
# Caveat (servers.md): ejabberd does not check the DIGEST-MD5 authzid;
# do not use it for "authzid must be rejected" tests.
# Env: EJABBERD_LOGLEVEL (info), START_TIMEOUT (40), STOP_TIMEOUT (10).
SERVER_NAME=ejabberd
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/run/ejabberd.pid LOG=$DIR/logs/ejabberd.log
DIST_PORT=$((PORT + 1))
CTL=(ejabberdctl --config-dir "$DIR" --config "$DIR/ejabberd.yml" --ctl-config "$DIR/ejabberdctl.cfg"
     --logs "$DIR/logs" --spool "$DIR/spool")

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    port_free_or_die "$DIST_PORT"
    command -v ejabberdctl >/dev/null || die "ejabberd not installed (apt-get install ejabberd)"
    mkdir -p "$DIR/run" "$DIR/logs" "$DIR/spool"
    # ejabberdctl run as root re-executes itself as user ejabberd.
    chown ejabberd:ejabberd "$DIR/run" "$DIR/logs" "$DIR/spool"
    cat > "$DIR/inetrc" <<CONF
{lookup,["file","native"]}.
{host,{127,0,0,1}, ["localhost"]}.
{file, resolv, "/etc/resolv.conf"}.
CONF
    cat > "$DIR/ejabberdctl.cfg" <<CONF
ERLANG_NODE=ejabberd$PORT@localhost
ERL_DIST_PORT=$DIST_PORT
INET_DIST_INTERFACE=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH=$PIDFILE
CONF
    cat > "$DIR/ejabberd.yml" <<CONF
hosts:
  - localhost
loglevel: ${EJABBERD_LOGLEVEL:-info}
log_rotate_count: 0
listen:
  -
    port: $PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    starttls_required: false
    max_stanza_size: 262144
auth_method: internal
auth_password_format: plain
disable_sasl_mechanisms: []
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_disco: {}
  mod_roster: {}
  mod_ping: {}
CONF
    chmod 644 "$DIR/ejabberd.yml" "$DIR/ejabberdctl.cfg" "$DIR/inetrc"
    "${CTL[@]}" start > "$DIR/ejabberdctl.out" 2>&1 \
        || { log_tail "$DIR/ejabberdctl.out" "$LOG"; die "ejabberdctl start failed"; }
    # The pid file appears once beam runs.
    i=0
    while ! [ -s "$PIDFILE" ] && [ $i -lt $((${START_TIMEOUT:-40} * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    START_TIMEOUT=${START_TIMEOUT:-40} wait_ready "$PIDFILE" "$PORT" "$LOG" "$DIR/ejabberdctl.out"
    for u in "alice secret" "bob b0b-p@ss"; do
        set -- $u
        "${CTL[@]}" register "$1" localhost "$2" >> "$DIR/ejabberdctl.out" 2>&1 \
            || { log_tail "$DIR/ejabberdctl.out" "$LOG"; stop_pid "$PIDFILE"; die "registering $1 failed"; }
    done
    echo "ejabberd: ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), dir $DIR)"
    ;;
stop)
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
