"""An exactly-once read-process-write loop with confluent-kafka-python: reads the input topic in a consumer group
(read_committed), writes "out-<value>" for every record to the output topic, and commits the input offsets in the
same transaction. Exits 0 once it has processed up to the input's end; a test kills it at random points.
With a pause, each transaction stays open that long after its records and offsets are sent, "open <n>" is printed when
that pause starts (a test kills the processor then, inside the transaction) and "committed <n>" after each commit.

usage: eos_processor.py <bootstrap> <input> <output> <group> <transactional.id> [pause_ms_per_batch]
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, source, sink, group, transactional_id = sys.argv[1:6]
pause_s = int(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0
BATCH = 50

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
input_partitions = len(consumer.list_topics(source, 10).topics[source].partitions)

idle = 0
transactions = 0
while True:
    messages = consumer.consume(BATCH, 1.0)
    messages = [m for m in messages if m.error() is None]
    if not messages:
        assignment = consumer.assignment()
        # Done only with every input partition: a processor killed just before leaves a member in the group until
        # its session ends, holding some of them, and the end of a part of the input is not the end of the input.
        if len(assignment) == input_partitions:
            # Before its first record a partition has no position yet: its committed offset is where it is.
            committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(assignment, 10)}
            positions = [p.offset if p.offset >= 0 else committed[(p.topic, p.partition)]
                         for p in consumer.position(assignment)]
            ends = [consumer.get_watermark_offsets(tp, 5)[1] for tp in assignment]
            if all(p >= end for p, end in zip(positions, ends)):
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
    if pause_s:
        producer.flush(10)
        print(f'open {transactions + 1}', flush=True)
        time.sleep(pause_s)
    producer.commit_transaction(30)
    transactions += 1
    if pause_s:
        print(f'committed {transactions}', flush=True)
consumer.close()
print('done', flush=True)
