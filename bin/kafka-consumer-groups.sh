#!/bin/sh
# Kafka's kafka-consumer-groups.sh, answered by Samsa: same flags (--bootstrap-server, --list, --describe,
# --reset-offsets, --delete).
exec node "$(dirname "$0")/samsa.js" consumer-groups "$@"
