"""Runs transactions with confluent-kafka-python: each argument is "commit:v1,v2,..." or "abort:v1,...", sent to
partition 0 of the topic in its own transaction, then committed or aborted. Prints "done".

usage: transactional_producer.py <bootstrap> <topic> <transactional.id> <commit|abort>:<values> ...
"""
import sys

from confluent_kafka import Producer

bootstrap, topic, transactional_id = sys.argv[1:4]
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': transactional_id})
p.init_transactions(30)
for spec in sys.argv[4:]:
    outcome, values = spec.split(':', 1)
    p.begin_transaction()
    for v in values.split(','):
        p.produce(topic, value=v.encode(), partition=0)
    if outcome == 'commit':
        p.commit_transaction(30)
    else:
        # Sent first: librdkafka drops records still queued when a transaction is aborted.
        p.flush(30)
        p.abort_transaction(30)
print('done')
