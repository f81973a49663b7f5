#!/usr/bin/env bash
# PostgreSQL for the tests that run against a real server (docs/postgresql.md,
# "PostgreSQL in CI"): installs Debian's server when its binaries are missing, starts
# whatever cluster exists (Debian's package makes `15 main`), waits until it accepts
# connections, and creates one superuser login for the test fixtures, reached with a
# password over 127.0.0.1 exactly as a remote sladesk user would be.
#
#   .ci/pg.sh up      install if needed, start, wait; prints `export` lines on stdout
#   .ci/pg.sh start   start the cluster (installed) and wait
#   .ci/pg.sh stop    stop it
#
# The fixtures create every database and person role they use with a random prefix
# and drop them again, so a shared server stays clean. Logs go to stderr; only `up`
# writes to stdout, so `.ci/run` can eval it.
set -euo pipefail

# A throwaway password for a throwaway login on a server that listens on loopback only.
ADMIN="${SLADESK_TEST_PG_ADMIN:-sladesk_ci}"
PASSWORD="${SLADESK_TEST_PG_PASSWORD:-sladesk-ci-pg}"

log() { echo "pg.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "not root: cannot install or start PostgreSQL; its tests will skip"
    exit 0
fi

server_binaries() {
    compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

install_pg() {
    if server_binaries; then
        return
    fi
    local t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # The package creates and starts the `main` cluster of its version.
    apt-get install -y -q --no-install-recommends postgresql postgresql-client >&2
    log "install took $((SECONDS - t0)) s"
}

# VERSION CLUSTER PORT of the first cluster pg_lsclusters knows.
cluster() {
    pg_lsclusters --no-header | awk 'NR == 1 { print $1, $2, $3 }'
}

start() {
    local t0=$SECONDS version name port
    read -r version name port <<<"$(cluster)"
    if [[ -z "${version:-}" ]]; then
        log "no cluster: pg_createcluster --start 15 main (or reinstall postgresql)"
        exit 1
    fi
    # Started already is fine (exit 2 means "already running" for pg_ctlcluster).
    pg_ctlcluster "$version" "$name" start >&2 2>&1 || true
    for _ in $(seq 1 300); do
        if runuser -u postgres -- pg_isready -q -p "$port"; then
            log "cluster $version/$name accepts connections on port $port after $((SECONDS - t0)) s"
            return
        fi
        sleep 0.1
    done
    log "cluster $version/$name did not accept connections within 30 s"
    runuser -u postgres -- pg_isready -p "$port" >&2 || true
    exit 1
}

admin_role() {
    local port=$1
    # Idempotent: a second `up` only resets the password. Over the local socket as
    # postgres (peer), the only way in before this role exists.
    runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$port" -d postgres \
        -v admin="$ADMIN" -v password="$PASSWORD" >&2 <<'EOF'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', :'admin')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'admin') \gexec
SET password_encryption = 'scram-sha-256';
ALTER ROLE :"admin" WITH LOGIN SUPERUSER PASSWORD :'password';
EOF
}

case "${1:-up}" in
up)
    t0=$SECONDS
    install_pg
    start
    read -r _ _ port <<<"$(cluster)"
    admin_role "$port"
    log "ready after $((SECONDS - t0)) s"
    echo "export SLADESK_TEST_PG_HOST=127.0.0.1"
    echo "export SLADESK_TEST_PG_PORT=$port"
    echo "export SLADESK_TEST_PG_ADMIN=$ADMIN"
    echo "export SLADESK_TEST_PG_PASSWORD=$PASSWORD"
    echo "export SLADESK_TEST_PG_URL=postgresql://$ADMIN:$PASSWORD@127.0.0.1:$port/postgres"
    ;;
start) start ;;
stop)
    read -r version name _ <<<"$(cluster)"
    pg_ctlcluster "$version" "$name" stop >&2
    ;;
*)
    echo "usage: $0 [up|start|stop]" >&2
    exit 2
    ;;
esac
