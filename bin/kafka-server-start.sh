#!/bin/sh
# Kafka's start script, for those who know Kafka: kafka-server-start.sh [-daemon] server.properties [--override k=v]*
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
  exit 1
fi
# samsa.js itself, not `node samsa.js`: its first line gives node the flags the broker runs with.
samsa="$(dirname "$0")/samsa.js"
if [ "$1" = "-daemon" ]; then
  # As Kafka's -daemon: in the background, detached, its output in $LOG_DIR/kafkaServer.out.
  shift
  if [ $# -lt 1 ]; then
    echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
    exit 1
  fi
  LOG_DIR="${LOG_DIR:-$(dirname "$0")/../logs}"
  mkdir -p "$LOG_DIR"
  nohup "$samsa" server "$@" > "$LOG_DIR/kafkaServer.out" 2>&1 < /dev/null &
  exit 0
fi
exec "$samsa" server "$@"
