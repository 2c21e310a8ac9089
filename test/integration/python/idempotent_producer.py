"""Produces N records "v0".."v<N-1>" to one partition with confluent-kafka-python's idempotent producer.

Prints one JSON line: how many deliveries succeeded and the errors reported.

usage: idempotent_producer.py <bootstrap> <topic> <count>
"""
import json
import sys

from confluent_kafka import Producer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
delivered = []
errors = []


def report(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append(msg.value().decode())


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
p.flush(90)
print(json.dumps({'delivered': len(delivered), 'errors': errors}))
