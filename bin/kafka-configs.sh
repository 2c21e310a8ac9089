#!/bin/sh
# Kafka's kafka-configs.sh, answered by Samsa: same flags (--bootstrap-server, --entity-type topics|brokers,
# --entity-name, --entity-default, --describe [--all], --alter --add-config/--delete-config).
exec node "$(dirname "$0")/samsa.js" configs "$@"
