#!/bin/sh
# Kafka's kafka-console-producer.sh, answered by Samsa with the same flags.
exec node "$(dirname "$0")/samsa.js" console-producer "$@"
