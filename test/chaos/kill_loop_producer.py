"""An idempotent acks=all producer (confluent-kafka-python, librdkafka) that writes until told to stop.

Values are "p<partition>-<sequence>", the sequence counting per partition, sent round-robin over the
partitions with at most <max_in_flight> records unacknowledged, so that a broker killed at any moment has a
bounded number of records in flight. librdkafka keeps its producer id, epoch and sequence numbers across
broker restarts and retries a batch until message.timeout.ms, which is what the kill loop exercises.

Prints one line per event on stdout:
  ack <partition> <offset> <value>      a delivery report without error (the record is acknowledged)
  err <partition> <value> <error>       a delivery report with an error (never acknowledged)
  done <json>                           at the end, after the flush
Stops producing when a line "stop" arrives on stdin (or stdin closes), then flushes.

usage: kill_loop_producer.py <bootstrap> <topic> <partitions> <max_in_flight>
"""
import json
import sys
import threading

from confluent_kafka import KafkaException, Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
partitions, max_in_flight = int(sys.argv[3]), int(sys.argv[4])
stopping = threading.Event()
state = {'outstanding': 0, 'acked': 0, 'failed': 0}
fatal = []


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == 'stop':
            break
    stopping.set()


def report(err, msg):
    state['outstanding'] -= 1
    value = msg.value().decode()
    if err is not None:
        state['failed'] += 1
        print(f'err {msg.partition()} {value} {err.name()}', flush=True)
    else:
        state['acked'] += 1
        print(f'ack {msg.partition()} {msg.offset()} {value}', flush=True)


def on_error(err):
    if err.fatal():
        fatal.append(str(err))
        stopping.set()


threading.Thread(target=watch_stdin, daemon=True).start()
p = Producer({
    'bootstrap.servers': bootstrap,
    'enable.idempotence': True,
    'acks': 'all',
    'linger.ms': 1,
    'batch.num.messages': 20,
    # Long enough to ride out every restart of the loop: a record is retried, not dropped, while the broker is down.
    'message.timeout.ms': 300000,
    'socket.timeout.ms': 5000,
    'reconnect.backoff.ms': 20,
    'reconnect.backoff.max.ms': 200,
    'retry.backoff.ms': 20,
    'error_cb': on_error,
    # The idempotence state machine (producer id, epoch bumps, drains) in the stderr a stuck run prints.
    'debug': 'eos',
})
sequence = [0] * partitions
turn = 0
while not stopping.is_set():
    if state['outstanding'] >= max_in_flight:
        p.poll(0.005)
        continue
    partition = turn % partitions
    turn += 1
    value = f'p{partition}-{sequence[partition]}'
    try:
        p.produce(topic, value=value.encode(), partition=partition, on_delivery=report)
    except (BufferError, KafkaException):
        p.poll(0.01)
        turn -= 1
        continue
    sequence[partition] += 1
    state['outstanding'] += 1
    p.poll(0)
remaining = p.flush(120)
print('done ' + json.dumps({'sent': sum(sequence), 'acked': state['acked'], 'failed': state['failed'],
                            'unflushed': remaining, 'fatal': fatal}), flush=True)
