#!/bin/bash
# Postfix 3.7 (Debian's `postfix`) as a private instance: its own config, queue and
# data directories under DIR (`postfix -c DIR/etc`), smtpd on 127.0.0.1:PORT, no TLS,
# SMTP AUTH through Cyrus SASL with a private sasldb (DIGEST-MD5 and PLAIN offered,
# realm "realm"). The system instance (/etc/postfix, /var/spool/postfix) is untouched.
# Users (sasldb, realm "realm"): alice/secret, bob/b0b-p@ss.
# Mail: only authenticated clients may send (permit_sasl_authenticated, reject);
# the virtual domain localhost delivers alice@localhost and bob@localhost into
# maildirs DIR/mail/{alice,bob}/ (uid/gid 65534); the Received header names the
# authenticated sender. Log: DIR/postfix.log.
# Env: START_TIMEOUT (20), STOP_TIMEOUT (10).
SERVER_NAME=postfix
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/server.pid LOG=$DIR/postfix.log
ETC=$DIR/etc

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    command -v postfix >/dev/null || die "postfix not installed (apt-get install postfix libsasl2-modules sasl2-bin)"
    command -v saslpasswd2 >/dev/null || die "saslpasswd2 missing (apt-get install sasl2-bin)"
    id postfix >/dev/null 2>&1 || die "user postfix missing (apt-get install postfix)"
    rm -rf "$ETC" "$DIR/queue" "$DIR/data" "$DIR/mail"
    mkdir -p "$ETC/sasl" "$DIR/queue" "$DIR/data" "$DIR/mail"
    chown postfix "$DIR/data"
    chown 65534:65534 "$DIR/mail"
    cat > "$ETC/sasl/smtpd.conf" <<CONF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $DIR/sasldb2
mech_list: DIGEST-MD5 PLAIN
CONF
    rm -f "$DIR/sasldb2"
    printf '%s' 'secret' | saslpasswd2 -f "$DIR/sasldb2" -a smtpd -u realm -p -c alice \
        || die "saslpasswd2 failed for alice"
    printf '%s' 'b0b-p@ss' | saslpasswd2 -f "$DIR/sasldb2" -a smtpd -u realm -p -c bob \
        || die "saslpasswd2 failed for bob"
    chgrp postfix "$DIR/sasldb2" && chmod 640 "$DIR/sasldb2"
    cat > "$ETC/vmailbox" <<MAP
alice@localhost alice/
bob@localhost bob/
MAP
    cat > "$ETC/main.cf" <<CONF
compatibility_level = 3.6
config_directory = $ETC
queue_directory = $DIR/queue
data_directory = $DIR/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $LOG
maillog_file_prefixes = $DIR
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination =
mynetworks = 127.0.0.1/32
relayhost =
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtpd_banner = \$myhostname ESMTP sasl-digest-md5 test instance
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain = realm
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
virtual_mailbox_domains = localhost
virtual_mailbox_base = $DIR/mail
virtual_mailbox_maps = texthash:$ETC/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
CONF
    # Only the services this instance needs; no chroot (smtpd reads the sasldb).
    cat > "$ETC/master.cf" <<CONF
127.0.0.1:$PORT inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
    # Postfix re-reads a main.cf younger than ~2 s: backdate the config.
    touch -d '-1 min' "$ETC/main.cf" "$ETC/master.cf"
    postfix -c "$ETC" start > "$DIR/start.log" 2>&1 \
        || { log_tail "$DIR/start.log" "$LOG"; die "postfix start failed"; }
    # The master daemonizes; its pid file holds a space-padded pid.
    i=0
    until [ -s "$DIR/queue/pid/master.pid" ]; do
        [ $i -ge 50 ] && { log_tail "$DIR/start.log" "$LOG"; die "no master.pid after 5 s"; }
        sleep 0.1
        i=$((i + 1))
    done
    tr -dc '0-9' < "$DIR/queue/pid/master.pid" > "$PIDFILE"
    wait_ready "$PIDFILE" "$PORT" "$LOG" "$DIR/start.log"
    echo "postfix: ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), dir $DIR)"
    ;;
stop)
    # SIGTERM to the master (what `postfix stop` does) ends its children too.
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
