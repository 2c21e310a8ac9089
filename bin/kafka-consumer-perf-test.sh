#!/bin/sh
# Kafka's kafka-consumer-perf-test.sh, answered by Samsa: same flags (--bootstrap-server, --topic, --messages,
# --group, --fetch-size, --timeout, --show-detailed-stats, --reporting-interval, --hide-header, --date-format).
exec node "$(dirname "$0")/samsa.js" consumer-perf-test "$@"
