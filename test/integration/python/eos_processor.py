"""An exactly-once read-process-write loop with confluent-kafka-python: reads the input topic in a consumer group
(read_committed), writes "out-<value>" for every record to the output topic, and commits the input offsets in the
same transaction. Exits 0 once it has processed up to the input's end; a test kills it at random points.

usage: eos_processor.py <bootstrap> <input> <output> <group> <transactional.id>
"""
import sys

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, source, sink, group, transactional_id = sys.argv[1:6]
BATCH = 25

consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'enable.auto.commit': False,
    'auto.offset.reset': 'earliest',
    'isolation.level': 'read_committed',
    'session.timeout.ms': 6000,
})
producer = Producer({'bootstrap.servers': bootstrap, 'transactional.id': transactional_id})
producer.init_transactions(30)
consumer.subscribe([source])

idle = 0
while True:
    messages = consumer.consume(BATCH, 1.0)
    messages = [m for m in messages if m.error() is None]
    if not messages:
        assignment = consumer.assignment()
        if assignment:
            positions = consumer.position(assignment)
            ends = [consumer.get_watermark_offsets(tp, 5)[1] for tp in assignment]
            if all(p.offset >= end for p, end in zip(positions, ends)):
                break
        idle += 1
        if idle > 60:
            sys.exit('no progress')
        continue
    idle = 0
    producer.begin_transaction()
    for m in messages:
        producer.produce(sink, value=b'out-' + m.value(), partition=m.partition())
    positions = consumer.position(consumer.assignment())
    producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
    producer.commit_transaction(30)
consumer.close()
print('done', flush=True)
