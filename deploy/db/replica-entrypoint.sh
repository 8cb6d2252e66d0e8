#!/bin/bash
# The streaming replica (service db-replica): copied once from the primary with pg_basebackup -R, then a hot standby.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  chmod 0700 "$PGDATA"
  until pg_basebackup -h db -U replicator -D "$PGDATA" -R -X stream -c fast -w; do
    echo "db-replica: waiting for the primary"; rm -rf "${PGDATA:?}"/*; sleep 2
  done
fi
chmod 0700 "$PGDATA"
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=5s
