"""Produces N records "v0".."v<N-1>" to one partition with confluent-kafka-python's idempotent producer.

Prints one JSON line: how many deliveries succeeded and the errors reported.

With a pace (ms between records), also prints "progress <delivered>" every 100 deliveries, so that a test
can act (kill the broker) part-way.

usage: idempotent_producer.py <bootstrap> <topic> <count> [pace_ms]
"""
import json
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
pace_s = int(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0
delivered = []
errors = []


def report(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append(msg.value().decode())
        if pace_s and len(delivered) % 100 == 0:
            print(f'progress {len(delivered)}', flush=True)


p = Producer({
    'bootstrap.servers': bootstrap,
    'enable.idempotence': True,
    'linger.ms': 2,
    'batch.num.messages': 7,
    'socket.timeout.ms': 5000,
    'message.timeout.ms': 60000,
    'reconnect.backoff.ms': 20,
    'retry.backoff.ms': 20,
})
for i in range(count):
    while True:
        try:
            p.produce(topic, value=f'v{i}'.encode(), partition=0, on_delivery=report)
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
    if pace_s:
        time.sleep(pace_s)
p.flush(90)
print(json.dumps({'delivered': len(delivered), 'errors': errors}))
