#!/bin/sh
# Kafka's kafka-transactions.sh, answered by Samsa: same commands (list, describe, describe-producers,
# find-hanging, abort) and flags.
exec node "$(dirname "$0")/samsa.js" transactions "$@"
