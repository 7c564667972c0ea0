#!/bin/bash
# Dovecot IMAP (no TLS) on 127.0.0.1:PORT with SASL DIGEST-MD5, CRAM-MD5, PLAIN.
# Users in DIR/passwd: alice/secret, bob/b0b-p@ss ({PLAIN}) and carol/secret
# stored as a realm-bound {DIGEST-MD5} hash (realm "realm").
# Mailboxes: INBOX plus "Archive" for every user (maildir under DIR/home).
# Env: DOVECOT_AUTH_DEBUG (no), START_TIMEOUT (20), STOP_TIMEOUT (10).
SERVER_NAME=dovecot
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/server.pid LOG=$DIR/dovecot.log

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    command -v dovecot >/dev/null || die "dovecot not installed (apt-get install dovecot-imapd)"
    mkdir -p "$DIR/run" "$DIR/state" "$DIR/home"
    chmod 755 "$DIR/run" "$DIR/state" "$DIR/home"
    carol_hash=$(printf '%s' 'carol:realm:secret' | md5sum | cut -d' ' -f1)
    cat > "$DIR/passwd" <<PW
alice:{PLAIN}secret
bob:{PLAIN}b0b-p@ss
carol:{DIGEST-MD5}$carol_hash
PW
    chmod 644 "$DIR/passwd"
    for u in alice bob carol; do
        mkdir -p "$DIR/home/$u/Maildir/.Archive/cur" "$DIR/home/$u/Maildir/.Archive/new" "$DIR/home/$u/Maildir/.Archive/tmp" \
                 "$DIR/home/$u/Maildir/cur" "$DIR/home/$u/Maildir/new" "$DIR/home/$u/Maildir/tmp"
    done
    chown -R 65534:65534 "$DIR/home"
    cat > "$DIR/dovecot.conf" <<CONF
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = digest-md5 cram-md5 plain
auth_realms = realm
auth_default_realm = realm
auth_failure_delay = 0
auth_debug = ${DOVECOT_AUTH_DEBUG:-no}
auth_verbose = yes
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $DIR/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DIR/home/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
}
CONF
    # -F: foreground, so the pid we record is the master's.
    dovecot -F -c "$DIR/dovecot.conf" > "$DIR/dovecot.stdout" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    wait_ready "$PIDFILE" "$PORT" "$LOG" "$DIR/dovecot.stdout"
    echo "dovecot: ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), dir $DIR)"
    ;;
stop)
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
