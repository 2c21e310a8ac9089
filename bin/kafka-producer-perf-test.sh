#!/bin/sh
# Kafka's kafka-producer-perf-test.sh, answered by Samsa: same flags (--topic, --num-records, --record-size,
# --payload-file, --payload-delimiter, --throughput, --producer-props, --producer.config, --transactional-id,
# --transaction-duration-ms, --warmup-records).
exec node "$(dirname "$0")/samsa.js" producer-perf-test "$@"
