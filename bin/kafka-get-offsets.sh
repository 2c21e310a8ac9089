#!/bin/sh
# Kafka's kafka-get-offsets.sh (GetOffsetShell), answered by Samsa: same flags (--bootstrap-server, --topic,
# --partitions, --time).
exec node "$(dirname "$0")/samsa.js" get-offsets "$@"
