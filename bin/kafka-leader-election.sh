#!/bin/sh
# Kafka's kafka-leader-election.sh, answered by Samsa: same flags (--bootstrap-server, --election-type, --topic,
# --partition, --all-topic-partitions, --path-to-json-file, --admin.config).
exec node "$(dirname "$0")/samsa.js" leader-election "$@"
