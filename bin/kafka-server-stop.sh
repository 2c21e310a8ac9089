#!/bin/sh
# Kafka's stop script: signals (SIGTERM, or $SIGNAL) the brokers started with kafka-server-start.sh or
# `samsa server` on this machine; --node-id ID stops only that one.
exec node "$(dirname "$0")/samsa.js" server-stop "$@"
