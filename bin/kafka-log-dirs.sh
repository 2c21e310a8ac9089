#!/bin/sh
# Kafka's kafka-log-dirs.sh, answered by Samsa: same flags (--bootstrap-server, --describe, --topic-list,
# --broker-list).
exec node "$(dirname "$0")/samsa.js" log-dirs "$@"
