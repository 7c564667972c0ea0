#!/bin/bash
# OpenLDAP slapd with Cyrus SASL (DIGEST-MD5, PLAIN, ...) on 127.0.0.1:PORT.
# Users (plaintext userPassword, read by slapd's internal auxprop):
#   uid=alice,ou=people,dc=example,dc=com  secret
#   uid=bob,ou=people,dc=example,dc=com    b0b-p@ss
# Env: SASL_REALM (realm), SASL_HOST (localhost), SASL_SECPROPS (none,minssf=0),
#      SLAPD_DEBUG (stats), START_TIMEOUT (20), STOP_TIMEOUT (10),
#      SLAPD_EXTRA_LDIF (a file of entries added after the users),
#      SASL_PATH (libsasl2's plugin directory, passed through to slapd: slapd has
#      no directive for it; used to run slapd with cyrus-plugin's libdigestmd5.so).
SERVER_NAME=slapd
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/server.pid LOG=$DIR/slapd.log

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    command -v slapd >/dev/null || die "slapd not installed (apt-get install slapd ldap-utils sasl2-bin libsasl2-modules)"
    rm -rf "$DIR/db" && mkdir -p "$DIR/db"
    cat > "$DIR/slapd.conf" <<CONF
include         /etc/ldap/schema/core.schema
include         /etc/ldap/schema/cosine.schema
include         /etc/ldap/schema/inetorgperson.schema
pidfile         $DIR/slapd.pid
argsfile        $DIR/slapd.args
modulepath      /usr/lib/ldap
moduleload      back_mdb
sasl-realm      ${SASL_REALM:-realm}
sasl-host       ${SASL_HOST:-localhost}
sasl-secprops   ${SASL_SECPROPS:-none,minssf=0}
authz-regexp    "^uid=([^,@]+)(@[^,]*)?(,cn=[^,]+)?,cn=(digest-md5|plain|cram-md5),cn=auth\$"  "uid=\$1,ou=people,dc=example,dc=com"
database        mdb
maxsize         16777216
suffix          "dc=example,dc=com"
rootdn          "cn=admin,dc=example,dc=com"
directory       $DIR/db
access to attrs=userPassword by * auth
access to * by * read
CONF
    cat > "$DIR/init.ldif" <<LDIF
dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Example
mail: alice@example.com
userPassword: secret

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Example
userPassword: b0b-p@ss
LDIF
    if [ -n "${SLAPD_EXTRA_LDIF:-}" ]; then
        { echo; cat "$SLAPD_EXTRA_LDIF"; } >> "$DIR/init.ldif" || die "cannot read $SLAPD_EXTRA_LDIF"
    fi
    slapadd -q -f "$DIR/slapd.conf" -l "$DIR/init.ldif" > "$DIR/slapadd.log" 2>&1 \
        || { log_tail "$DIR/slapadd.log"; die "slapadd failed"; }
    slapd -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$PORT/" -d "${SLAPD_DEBUG:-stats}" \
        > "$LOG" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    wait_ready "$PIDFILE" "$PORT" "$LOG"
    echo "slapd: ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), dir $DIR)"
    ;;
stop)
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
