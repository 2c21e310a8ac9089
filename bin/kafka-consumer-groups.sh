#!/bin/sh
# Kafka's kafka-consumer-groups.sh, answered by Samsa: same flags (--bootstrap-server, --command-config, --list,
# --describe, --reset-offsets, --delete, --delete-offsets, --all-groups, --state, --members, --offsets).
exec node "$(dirname "$0")/samsa.js" consumer-groups "$@"
