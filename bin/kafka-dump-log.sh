#!/bin/sh
# Kafka's kafka-dump-log.sh, answered by Samsa: same flags (--files, --print-data-log, --deep-iteration,
# --verify-index-only, --index-sanity-check, --offsets-decoder, --transaction-log-decoder, --max-message-size).
exec node "$(dirname "$0")/samsa.js" dump-log "$@"
