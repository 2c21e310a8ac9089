#!/usr/bin/python3
"""Writes record batch fixtures made by an independent implementation, kafka-python's record builders.

Run with Debian's python (python3-kafka, python3-snappy, python3-lz4, python3-xxhash, python3-zstandard):
    /usr/bin/python3 scripts/make-record-fixtures.py
Writes test/fixtures/records/<name>.bin and expected.json (the records each file must decode to).
"""
import json
import os

from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'records')
CODECS = {'none': 0, 'gzip': 1, 'snappy': 2, 'lz4': 3, 'zstd': 4}
BASE_TS = 1700000000000
# Compressible values, null keys and values, and (for v2) headers.
RECORDS = [
    (b'k%d' % i if i % 5 else None, (b'value-%d-' % i + b'xyz' * 30) if i % 7 else None, BASE_TS + i)
    for i in range(12)
]

expected = {}


def describe(records, magic, with_headers):
    out = []
    for offset, (key, value, ts) in enumerate(records):
        out.append({
            'offset': offset,
            'timestamp': ts if magic > 0 else -1,
            'key': key.decode() if key is not None else None,
            'value': value.decode() if value is not None else None,
            'headers': [['h', 'v%d' % offset]] if with_headers else [],
        })
    return out


for name, codec in CODECS.items():
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for offset, (key, value, ts) in enumerate(RECORDS):
        b.append(offset, timestamp=ts, key=key, value=value, headers=[('h', b'v%d' % offset)])
    data = bytes(b.build())
    fname = 'v2-%s.bin' % name
    open(os.path.join(OUT, fname), 'wb').write(data)
    expected[fname] = describe(RECORDS, 2, True)

    if codec == 4:
        continue  # legacy messages have no zstd
    for magic in (0, 1):
        lb = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
        for offset, (key, value, ts) in enumerate(RECORDS):
            lb.append(offset, timestamp=ts, key=key, value=value)
        data = bytes(lb.build())
        fname = 'magic%d-%s.bin' % (magic, name)
        open(os.path.join(OUT, fname), 'wb').write(data)
        expected[fname] = describe(RECORDS, magic, False)

with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write('\n')
print('wrote %d fixtures' % len(expected))
