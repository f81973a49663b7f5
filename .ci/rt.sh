#!/usr/bin/env bash
# Request Tracker 5 for the pull tests: installs it from Debian's packages with no
# questions asked, keeps a pristine copy of its SQLite database and runs rt-server on
# 127.0.0.1. Why each step is there: docs/pull.md ("Request Tracker in CI").
#
#   .ci/rt.sh up      install if needed, start, wait for REST2; prints `export` lines
#   .ci/rt.sh start   start rt-server (already installed) and wait for REST2
#   .ci/rt.sh stop    stop rt-server (the tests stop it mid-pull)
#   .ci/rt.sh reset   stop, put the pristine database back, start
#
# Logs go to stderr; only `up` writes to stdout, so `.ci/run` can eval its output.
set -euo pipefail

STATE=/var/lib/sladesk-ci-rt
CONF_D=/etc/request-tracker5/RT_SiteConfig.d
SITE_CONF="$CONF_D/90-sladesk-ci.pm"
DB=/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb
SERVER=/usr/share/request-tracker5/libexec/rt-server
# A throwaway password for a throwaway RT that listens on loopback only.
PASSWORD="${SLADESK_TEST_RT_PASSWORD:-sladesk-ci-rt}"

log() { echo "rt.sh: $*" >&2; }

port() {
    if [[ -s "$STATE/port" ]]; then
        cat "$STATE/port"
        return
    fi
    local p="${SLADESK_TEST_RT_PORT:-}"
    if [[ -z "$p" ]]; then
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    mkdir -p "$STATE"
    echo "$p" >"$STATE/port"
    echo "$p"
}

write_site_config() {
    local p=$1
    mkdir -p "$CONF_D"
    # Before the install: RT hashes root's password once, with the cost in force then,
    # and never re-hashes downwards (cost 12 costs ~195 ms per authenticated request).
    cat >"$SITE_CONF" <<EOF
Set(\$WebPath, "");
Set(\$WebBaseURL, "http://127.0.0.1:$p");
Set(\$WebDomain, "127.0.0.1");
Set(\$WebPort, $p);
Set(\$MailCommand, "testfile");
Set(\$BcryptCost, 4);
Set(\$LogToSTDERR, "warning");
1;
EOF
}

install_rt() {
    local p=$1
    if dpkg-query -W -f='${Status}' request-tracker5 2>/dev/null | grep -q "ok installed"; then
        return
    fi
    local t0=$SECONDS
    write_site_config "$p"
    debconf-set-selections <<EOF
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/initial-root-password password $PASSWORD
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1:$p
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/rtname string sladesk-ci
request-tracker5 request-tracker5/organization string sladesk-ci.invalid
request-tracker5 request-tracker5/correspondaddress string rt@sladesk-ci.invalid
request-tracker5 request-tracker5/commentaddress string rt-comment@sladesk-ci.invalid
EOF
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        request-tracker5 rt5-db-sqlite rt5-standalone >&2
    # RT is never started by the packages; the copy is taken while nothing has it open.
    cp "$DB" "$STATE/rtdb.pristine"
    log "install took $((SECONDS - t0)) s"
}

permissions() {
    chgrp www-data /etc/request-tracker5/RT_SiteConfig.pm "$SITE_CONF"
    chmod 640 /etc/request-tracker5/RT_SiteConfig.pm "$SITE_CONF"
    chown -R www-data:www-data "$(dirname "$DB")"
    mkdir -p /var/cache/request-tracker5
    chown -R www-data:www-data /var/cache/request-tracker5
}

wait_rest2() {
    local p=$1 limit=${2:-180}
    python3 - "$p" "$PASSWORD" "$limit" <<'EOF' >&2
import base64, sys, time, urllib.request
port, password, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
auth = base64.b64encode(f"root:{password}".encode()).decode()
deadline = time.monotonic() + limit
t0 = time.monotonic()
while True:
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/REST/2.0/rt", headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status == 200:
                print(f"rt.sh: REST2 answered after {time.monotonic() - t0:.1f} s")
                break
    except Exception as e:  # noqa: BLE001 - any failure means "not up yet"
        last = e
    if time.monotonic() > deadline:
        sys.exit(f"rt.sh: REST2 did not answer within {limit:.0f} s: {last}")
    time.sleep(0.5)
EOF
}

start() {
    local p
    p=$(port)
    if [[ -s "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
        wait_rest2 "$p"
        return
    fi
    write_site_config "$p"
    permissions
    # setsid: rt-server outlives this script and .ci/run's shell, in its own group.
    setsid runuser -u www-data -- "$SERVER" --host 127.0.0.1 --port "$p" --max-workers 2 \
        >>"$STATE/server.log" 2>&1 </dev/null &
    echo $! >"$STATE/pid"
    wait_rest2 "$p"
}

stop() {
    if [[ -s "$STATE/pid" ]]; then
        local pid
        pid=$(cat "$STATE/pid")
        # The whole process group: the master and its workers.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$STATE/pid"
    fi
}

case "${1:-up}" in
up)
    mkdir -p "$STATE"
    p=$(port)
    install_rt "$p"
    start
    echo "export SLADESK_TEST_RT_URL=http://127.0.0.1:$p"
    echo "export SLADESK_TEST_RT_USER=root"
    echo "export SLADESK_TEST_RT_PASSWORD=$PASSWORD"
    echo "export SLADESK_TEST_RT_CTL=$(cd "$(dirname "$0")" && pwd)/rt.sh"
    ;;
start) start ;;
stop) stop ;;
reset)
    stop
    cp "$STATE/rtdb.pristine" "$DB"
    rm -f "$DB-wal" "$DB-shm" "$DB-journal"
    start
    ;;
*)
    echo "usage: $0 [up|start|stop|reset]" >&2
    exit 2
    ;;
esac
