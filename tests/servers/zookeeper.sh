#!/bin/bash
# Apache ZooKeeper 3.8 (Debian's `zookeeper`), standalone, on 127.0.0.1:PORT with
# SASL required (sessionRequireClientSASLAuth): the JDK's DIGEST-MD5 server with
# service "zookeeper", server name and realm "zk-sasl-md5", qop auth only.
# Users (JAAS DigestLoginModule): alice/secret, bob/b0b-p@ss.
# No admin server (Jetty), four-letter words srvr and ruok only.
# ZooKeeper's own CLI, authenticated as alice: DIR/zkcli.sh ARGS... (see below).
# Env: START_TIMEOUT (30), STOP_TIMEOUT (10), ZK_HEAP (-Xmx128m).
SERVER_NAME=zookeeper
. "$(dirname "$0")/lib.sh"
usage_check "$@"
CMD=$1 PORT=$3
prepare_dir "$2"
PIDFILE=$DIR/server.pid LOG=$DIR/zookeeper.log
ZK_JAR=/usr/share/java/zookeeper.jar
SLF4J_JAR=/usr/share/java/slf4j-simple.jar

# srvr answers "Mode: standalone" once the server serves requests (the port opens
# earlier). Prints nothing if it does not answer.
srvr() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'srvr' >&3
        timeout 2 cat <&3
    ) 2>/dev/null
}

case "$CMD" in
start)
    pid_alive "$PIDFILE" && die "already running in $DIR (pid $(cat "$PIDFILE"))"
    port_free_or_die "$PORT"
    command -v java >/dev/null || die "java not installed (apt-get install zookeeper)"
    [ -f "$ZK_JAR" ] || die "$ZK_JAR missing (apt-get install zookeeper)"
    [ -f "$SLF4J_JAR" ] || die "$SLF4J_JAR missing (apt-get install zookeeper pulls libslf4j-java)"
    rm -rf "$DIR/data"
    mkdir -p "$DIR/data"
    cat > "$DIR/zoo.cfg" <<CONF
dataDir=$DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
tickTime=2000
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
sessionRequireClientSASLAuth=true
CONF
    cat > "$DIR/jaas.conf" <<CONF
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_alice="secret"
    user_bob="b0b-p@ss";
};
CONF
    cat > "$DIR/client-jaas.conf" <<CONF
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="alice"
    password="secret";
};
CONF
    # ZooKeeper's own CLI as alice against this instance: DIR/zkcli.sh get /path
    cat > "$DIR/zkcli.sh" <<CLI
#!/bin/bash
export CLIENT_JVMFLAGS="-Djava.security.auth.login.config=$DIR/client-jaas.conf -Dzookeeper.sasl.client=true -Xmx64m -Xshare:auto"
export ZOO_LOG_DIR=$DIR
export ZOOCFGDIR=$DIR
exec /usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:$PORT "\$@"
CLI
    chmod 755 "$DIR/zkcli.sh"
    java ${ZK_HEAP:--Xmx128m} -Xshare:auto \
        -cp "$ZK_JAR:$SLF4J_JAR" \
        -Djava.security.auth.login.config="$DIR/jaas.conf" \
        -Dzookeeper.admin.enableServer=false \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zoo.cfg" \
        > "$LOG" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    START_TIMEOUT=${START_TIMEOUT:-30} wait_ready "$PIDFILE" "$PORT" "$LOG"
    # The port is open before the server serves: wait for srvr (bounded too).
    i=0
    until srvr "$PORT" | grep -q '^Mode: standalone'; do
        if [ $i -ge $((${START_TIMEOUT:-30} * 10)) ]; then
            echo "$SERVER_NAME: no 'Mode: standalone' from srvr after ${START_TIMEOUT:-30}s" >&2
            log_tail "$LOG"
            stop_pid "$PIDFILE"
            exit 1
        fi
        pid_alive "$PIDFILE" || { log_tail "$LOG"; die "server process exited during start-up"; }
        sleep 0.1
        i=$((i + 1))
    done
    echo "zookeeper: ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), dir $DIR)"
    ;;
stop)
    stop_pid "$PIDFILE"
    ;;
status)
    status_of "$PIDFILE" "$PORT"
    ;;
esac
