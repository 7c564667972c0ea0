#!/bin/bash
# Prosody 0.12 XMPP (no TLS) on 127.0.0.1:PORT, virtual host "localhost",
# authentication through Cyrus SASL (mod_auth_cyrus from prosody-modules +
# lua-cyrussasl) with a private sasldb: DIGEST-MD5 and PLAIN.
# Users (realm = the virtual host): alice/secret, bob/b0b-p@ss.
# Env: PROSODY_LOG_LEVEL (info), START_TIMEOUT (20), STOP_TIMEOUT (10).
SERVER_NAME=prosody
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/server.pid LOG=$DIR/prosody.log

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    command -v prosody >/dev/null || die "prosody not installed (apt-get install prosody prosody-modules lua-cyrussasl sasl2-bin)"
    [ -f /usr/lib/prosody/modules/mod_auth_cyrus/mod_auth_cyrus.lua ] || die "mod_auth_cyrus missing (apt-get install prosody-modules)"
    command -v saslpasswd2 >/dev/null || die "saslpasswd2 missing (apt-get install sasl2-bin)"
    mkdir -p "$DIR/sasl2" "$DIR/data" "$DIR/certs"
    rm -f "$DIR/sasldb2"
    cat > "$DIR/sasl2/prosody.conf" <<CONF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $DIR/sasldb2
mech_list: DIGEST-MD5 PLAIN
CONF
    export SASL_CONF_PATH=$DIR/sasl2
    printf '%s' 'secret' | saslpasswd2 -f "$DIR/sasldb2" -a prosody -u localhost -p -c alice \
        || die "saslpasswd2 failed for alice"
    printf '%s' 'b0b-p@ss' | saslpasswd2 -f "$DIR/sasldb2" -a prosody -u localhost -p -c bob \
        || die "saslpasswd2 failed for bob"
    cat > "$DIR/prosody.cfg.lua" <<CONF
run_as_root = true
data_path = "$DIR/data"
certificates = "$DIR/certs"
pidfile = "$DIR/prosody.pid"
log = { { levels = { min = "${PROSODY_LOG_LEVEL:-info}" }, to = "file", filename = "$LOG" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
legacy_ssl_ports = { }
modules_enabled = { "roster", "saslauth", "disco", "ping" }
modules_disabled = { "s2s", "tls", "offline", "admin_socket" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "cyrus"
cyrus_service_name = "xmpp"
cyrus_application_name = "prosody"
cyrus_server_fqdn = "localhost"
-- mod_saslauth hides DIGEST-MD5 by default.
disable_sasl_mechanisms = { }
storage = "internal"
VirtualHost "localhost"
CONF
    prosody --config "$DIR/prosody.cfg.lua" -F > "$DIR/prosody.stdout" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    wait_ready "$PIDFILE" "$PORT" "$LOG" "$DIR/prosody.stdout"
    echo "prosody: ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), dir $DIR)"
    ;;
stop)
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
