"""pytest plugin: kafka-python's integration tests against a running Samsa broker.

kafka-python's fixtures (test/fixtures.py) start ZooKeeper and a Kafka broker from a Kafka distribution. Their
KAFKA_URI escape hatch hands the tests a bare address with none of the helpers the tests call (create_topics,
get_consumers, ...), so instead this plugin keeps the fixtures whole and only replaces the part that spawns Java:
KafkaFixture.open connects to Samsa at SAMSA_BOOTSTRAP, and ZooKeeper is not started at all (Samsa needs none, and
nothing the tests run reaches it). Topics are still created the fixtures' way: by a Metadata request that
auto-creates them, or by CreateTopics.

Every test's outcome is appended to SAMSA_RESULTS as a JSON line: name, status, and the first error line or the
reason for a skip.
"""
import json
import os

import pytest

BOOTSTRAP = os.environ["SAMSA_BOOTSTRAP"]
RESULTS = os.environ["SAMSA_RESULTS"]


def pytest_configure(config):
    from test import fixtures

    host, port = BOOTSTRAP.rsplit(":", 1)

    def open_kafka(self):
        if self.running:
            return
        if self.transport != "PLAINTEXT" or self.sasl_mechanism is not None:
            pytest.skip("needs a %s listener%s: Samsa has no security yet" % (
                self.transport, " with SASL/%s" % self.sasl_mechanism if self.sasl_mechanism else ""))
        self.host, self.port = host, int(port)
        (self._client,) = self.get_clients(1, client_id="_internal_client")
        self.running = True

    def close_kafka(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        self.running = False

    fixtures.KafkaFixture.open = open_kafka
    fixtures.KafkaFixture.stop = close_kafka
    fixtures.KafkaFixture.close = close_kafka
    fixtures.ZookeeperFixture.open = lambda self: None
    fixtures.ZookeeperFixture.close = lambda self: None


def _first_line(text):
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _failure_line(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return _first_line(crash.message)
    return _first_line(report.longreprtext)


def _record(entry):
    with open(RESULTS, "a") as out:
        out.write(json.dumps(entry) + "\n")


def pytest_runtest_logreport(report):
    name = report.nodeid
    if report.skipped:
        # longrepr of a skip is (file, line, "Skipped: reason").
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else _first_line(report.longrepr)
        _record({"name": name, "status": "skipped", "detail": reason.replace("Skipped: ", "", 1)})
    elif report.failed:
        where = "" if report.when == "call" else "(in %s) " % report.when
        _record({"name": name, "status": "failed", "detail": where + _failure_line(report)})
    elif report.when == "call":
        _record({"name": name, "status": "passed"})
