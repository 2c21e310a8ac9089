#!/bin/sh
# Kafka's start script, for those who know Kafka: kafka-server-start.sh config/server.properties [--override k=v]
exec node "$(dirname "$0")/samsa.js" server "$@"
