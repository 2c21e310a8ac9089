"""Runs N members of one consumer group in threads with kafka-python or confluent-kafka-python.

Prints READY once every member has partitions and together they hold all of them, then consumes until the
expected number of records has arrived (or a deadline passes) and prints one JSON line: each member's final
assignment and the records it read.

usage: group_members.py <kafka-python|confluent> <bootstrap> <topic> <group> <members> <partitions> <expected>
"""
import json
import sys
import threading
import time

library, bootstrap, topic, group = sys.argv[1:5]
members, partitions, expected = (int(x) for x in sys.argv[5:8])
DEADLINE_S = 60
# The members all stay: sessions long enough that a stalled machine does not expire one, whose partitions would
# then move (and its records not yet committed be read twice) while the group reads.
SESSION_TIMEOUT_MS = 30000

records = [[] for _ in range(members)]
assignments = [set() for _ in range(members)]
stop = threading.Event()
lock = threading.Lock()


def total():
    with lock:
        return sum(len(r) for r in records)


def run_kafka_python(i):
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='earliest',
                      session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=500, client_id=f'member-{i}')
    while not stop.is_set():
        for tp, msgs in c.poll(timeout_ms=100).items():
            with lock:
                records[i].extend([tp.partition, m.offset, m.value.decode()] for m in msgs)
        assignments[i] = {tp.partition for tp in c.assignment()}
    c.close()


def run_confluent(i):
    from confluent_kafka import Consumer
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
                  'session.timeout.ms': SESSION_TIMEOUT_MS, 'client.id': f'member-{i}'})
    c.subscribe([topic])
    while not stop.is_set():
        m = c.poll(0.1)
        if m is not None and m.error() is None:
            with lock:
                records[i].append([m.partition(), m.offset(), m.value().decode()])
        assignments[i] = {tp.partition for tp in c.assignment()}
    c.close()


target = run_kafka_python if library == 'kafka-python' else run_confluent
threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(members)]
for t in threads:
    t.start()
start = time.time()
while time.time() - start < DEADLINE_S:
    held = [set(a) for a in assignments]
    if all(held) and set().union(*held) == set(range(partitions)) and sum(len(h) for h in held) == partitions:
        break
    time.sleep(0.1)
print('READY', flush=True)
while total() < expected and time.time() - start < DEADLINE_S:
    time.sleep(0.1)
final = [sorted(a) for a in assignments]
stop.set()
for t in threads:
    t.join(timeout=15)
print(json.dumps({'assignments': final, 'records': records}), flush=True)
