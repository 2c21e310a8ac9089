#!/bin/sh
# Kafka's kafka-acls.sh, answered by Samsa: same flags (--bootstrap-server, --command-config, --add, --remove, --list, ...).
exec node "$(dirname "$0")/samsa.js" acls "$@"
