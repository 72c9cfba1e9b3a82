#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests, with trust
# authentication for local TCP connections (user postgres). Does nothing when one already
# answers; otherwise, as root, installs Debian's postgresql, creates a cluster if the
# package did not, allows trust on 127.0.0.1 and starts it.
set -euo pipefail

answers() {
    python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" \
        2>/dev/null
}

answers && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "note: no PostgreSQL on 127.0.0.1:5432; run 'sudo make system' (or start one with" \
        "trust authentication for user postgres) for the catalog tests" >&2
    exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if [ ! -d "/etc/postgresql/$version/main" ]; then
    pg_createcluster "$version" main --port 5432
fi
hba="/etc/postgresql/$version/main/pg_hba.conf"
rule="host all all 127.0.0.1/32 trust"
if ! grep -qxF "$rule" "$hba"; then
    # The first matching line wins: put the test rule first.
    printf '%s\n%s\n' "$rule" "$(cat "$hba")" > "$hba"
fi
if pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    pg_ctlcluster "$version" main reload
else
    pg_ctlcluster "$version" main start
fi
for _ in $(seq 30); do
    answers && exit 0
    sleep 1
done
echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
exit 1
