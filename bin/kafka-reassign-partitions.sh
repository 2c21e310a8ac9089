#!/bin/sh
# Kafka's kafka-reassign-partitions.sh, answered by Samsa: same flags (--bootstrap-server, --generate, --execute,
# --verify, --cancel, --list, --topics-to-move-json-file, --broker-list, --reassignment-json-file, --throttle,
# --preserve-throttles; --replica-alter-log-dirs-throttle is ignored with a message).
exec node "$(dirname "$0")/samsa.js" reassign-partitions "$@"
