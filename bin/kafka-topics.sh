#!/bin/sh
# Kafka's kafka-topics.sh, answered by Samsa: same flags (--bootstrap-server, --create, --list, --describe,
# --alter, --delete).
exec node "$(dirname "$0")/samsa.js" topics "$@"
