#!/bin/sh
# Kafka's kafka-delete-records.sh, answered by Samsa: same flags (--bootstrap-server, --offset-json-file).
exec node "$(dirname "$0")/samsa.js" delete-records "$@"
