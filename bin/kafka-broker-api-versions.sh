#!/bin/sh
# Kafka's kafka-broker-api-versions.sh, answered by Samsa: same flag (--bootstrap-server).
exec node "$(dirname "$0")/samsa.js" broker-api-versions "$@"
