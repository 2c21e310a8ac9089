/*
 * A load generator on librdkafka, so that the client is not what limits the figures.
 *
 *   loadgen produce <brokers> <topic> <count> <bytes> <acks> <compression> <partitions>
 *   loadgen consume <brokers> <topic> <count> [passes]
 *   loadgen latency <brokers> <topic> <records/s> <seconds> <bytes> <acks> [consume]
 *   loadgen small <brokers> <topic> <connections> <seconds> <bytes>
 *   loadgen bulk <brokers> <topic> <seconds> <bytes> <acks>
 *   loadgen loopback <seconds>
 *
 * produce sends `count` records, record i to partition i % partitions. consume reads from the beginning of
 * every partition until it has `count` records, `passes` times over. latency produces at a fixed rate to partition 0 and consumes
 * the same records in this process, timing each from send to receipt (with consume 0, only
 * from send to acknowledgement). small sends one record per request
 * from `connections` connections at once, each keeping 8 requests in flight. loopback measures TCP bandwidth
 * between two processes of this machine in 1 MiB writes. bulk produces as produce does (batches of up to 1 MB,
 * one partition, no compression) for `seconds`: the load beside a latency measurement.
 *
 * LOADGEN_CONFIG="key=value,..." in the environment adds librdkafka settings to every client it makes.
 *
 * Prints one JSON line. Throughput modes: {"messages","bytes","seconds","errors"} where seconds count from the
 * first record (consume) or the first send (produce); latency adds p50/p99/p999/max in milliseconds.
 */
#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile long delivered = 0, failed = 0;
/* In latency mode: the time from send to acknowledgement of each record, milliseconds. */
static double *acked = NULL;
static long ackedCount = 0, ackedCap = 0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) {
    if (failed++ == 0) fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
  } else {
    delivered++;
    double sent;
    if (acked && ackedCount < ackedCap && m->len >= sizeof sent) {
      memcpy(&sent, m->payload, sizeof sent);
      if (sent > 0) acked[ackedCount++] = (now() - sent) * 1000;
    }
  }
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "%s: %s\n", key, err);
    exit(2);
  }
}

/*
 * Extra client settings from the environment, LOADGEN_CONFIG="key=value,key=value", applied last: for example
 * api.version.request=false,broker.version.fallback=0.9.0.1 to drive a broker that predates ApiVersions.
 */
static void set_from_environment(rd_kafka_conf_t *conf) {
  const char *extra = getenv("LOADGEN_CONFIG");
  if (!extra || !*extra) return;
  char *copy = strdup(extra), *save = NULL;
  for (char *pair = strtok_r(copy, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(pair, '=');
    if (!eq) {
      fprintf(stderr, "LOADGEN_CONFIG: '%s' is not key=value\n", pair);
      exit(2);
    }
    *eq = '\0';
    set(conf, pair, eq + 1);
  }
  free(copy);
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  char err[512];
  set_from_environment(conf);
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "%s\n", err);
    exit(2);
  }
  return rk;
}

static char *make_payload(int size) {
  char *payload = malloc(size < 16 ? 16 : size);
  for (int i = 0; i < size; i++) payload[i] = 'a' + (i * 7 + i / 13) % 26;
  return payload;
}

static int produce(const char *brokers, const char *topic, long count, int size, const char *acks, const char *codec,
                   int partitions, int idempotent, double forSeconds) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "acks", acks);
  set(conf, "compression.codec", codec);
  set(conf, "linger.ms", "5");
  set(conf, "batch.size", "1000000");
  set(conf, "batch.num.messages", "100000");
  set(conf, "queue.buffering.max.kbytes", "1048576");
  set(conf, "queue.buffering.max.messages", "1000000");
  /* Today's Java client is idempotent by default; librdkafka then keeps at most 5 requests in flight. */
  set(conf, "enable.idempotence", idempotent ? "true" : "false");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  char *payload = make_payload(size);
  /* Connected, with the topic's metadata, before the clock starts. */
  const rd_kafka_metadata_t *md;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  double start = now();
  for (long i = 0; i < count; i++) {
    /* bulk mode: as many records as fit in forSeconds (checked every 1,024 records). */
    if (forSeconds > 0 && (i & 1023) == 0 && now() - start >= forSeconds) break;
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % partitions)),
                             RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 1);
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120000);
  double seconds = now() - start;
  printf("{\"messages\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"errors\":%ld}\n", delivered, delivered * (long)size,
         seconds, failed);
  rd_kafka_destroy(rk);
  free(payload);
  return failed ? 1 : 0;
}

static rd_kafka_t *new_consumer(const char *brokers) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  /* assign() needs a group id in librdkafka, though no group coordinator is used. */
  set(conf, "group.id", "samsa-loadgen");
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  set(conf, "fetch.max.bytes", "52428800");
  set(conf, "max.partition.fetch.bytes", "10485760");
  set(conf, "queued.max.messages.kbytes", "1048576");
  set(conf, "fetch.wait.max.ms", "100");
  set(conf, "socket.nagle.disable", "true");
  return new_client(RD_KAFKA_CONSUMER, conf);
}

/* Assigns every partition of `topic` from the beginning. */
static void assign_all(rd_kafka_t *rk, const char *topic) {
  const rd_kafka_metadata_t *md;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) exit(2);
  int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; p++)
    rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
}

static int consume(const char *brokers, const char *topic, long count, int passes) {
  rd_kafka_t *rk = new_consumer(brokers);
  assign_all(rk, topic);
  long got = 0, bytes = 0, errors = 0;
  double start = now(), first = 0;
  long perPass = count, pass = 0;
  count *= passes;
  while (got < count && now() - start < 120) {
    /* Another pass over the same records: back to the beginning. */
    if (got >= (pass + 1) * perPass && pass + 1 < passes) {
      pass++;
      rd_kafka_assign(rk, NULL);
      assign_all(rk, topic);
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && errors++ == 0)
        fprintf(stderr, "%s\n", rd_kafka_message_errstr(m));
    } else {
      if (got++ == 0) first = now();
      bytes += m->len;
    }
    rd_kafka_message_destroy(m);
  }
  double seconds = now() - first;
  printf("{\"messages\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"errors\":%ld}\n", got, bytes, seconds, errors);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got == count ? 0 : 1;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

struct latency_producer {
  rd_kafka_t *rk;
  const char *topic;
  double rate;
  double seconds;
  int size;
  long sent;
};

/* Sends at a fixed rate, each record carrying its send time; catches up in bursts if it falls behind. */
static void *latency_send(void *arg) {
  struct latency_producer *p = arg;
  char *payload = make_payload(p->size);
  double start = now();
  long total = (long)(p->rate * p->seconds);
  for (long i = 0; i < total; i++) {
    double due = start + i / p->rate;
    double t;
    /* Sleep, never spin: a spinning sender would take a core from the broker on a small machine. */
    while ((t = now()) < due) {
      struct timespec ts = {0, (long)((due - t) * 1e9)};
      nanosleep(&ts, NULL);
    }
    memcpy(payload, &t, sizeof t);
    while (rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_PARTITION(0),
                             RD_KAFKA_V_VALUE(payload, p->size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(p->rk, 1);
    rd_kafka_poll(p->rk, 0);
    p->sent++;
  }
  rd_kafka_flush(p->rk, 30000);
  free(payload);
  return NULL;
}

static int latency(const char *brokers, const char *topic, double rate, double seconds, int size, const char *acks,
                   int withConsumer) {
  if (size < (int)sizeof(double)) size = sizeof(double);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "acks", acks);
  set(conf, "linger.ms", "0");
  set(conf, "enable.idempotence", "false");
  /* As Kafka's Java client does: without it, Nagle's algorithm holds small requests back for milliseconds. */
  set(conf, "socket.nagle.disable", "true");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  struct latency_producer p = {new_client(RD_KAFKA_PRODUCER, conf), topic, rate, seconds, size, 0};
  /* One record sent and acknowledged before the clock starts: the producer is connected and knows the
     partition's leader, so its start-up is not counted as latency. Its send time of 0 marks it for the consumer. */
  char *warmup = calloc(1, size);
  rd_kafka_producev(p.rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE(warmup, size),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  rd_kafka_flush(p.rk, 10000);
  free(warmup);
  rd_kafka_t *consumer = withConsumer ? new_consumer(brokers) : NULL;
  if (consumer) assign_all(consumer, topic);
  /* Let the consumer catch up with the warm-up record and park its next fetch before anything is timed. */
  double ready = now() + 1;
  while (consumer && now() < ready) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 50);
    if (m) rd_kafka_message_destroy(m);
  }
  long total = (long)(rate * seconds);
  double *samples = malloc(sizeof(double) * (total + 1));
  acked = malloc(sizeof(double) * (total + 1));
  ackedCap = total + 1;
  long got = 0;
  pthread_t thread;
  pthread_create(&thread, NULL, latency_send, &p);
  double deadline = now() + seconds + 30;
  while (consumer && got < total && now() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
    if (!m) continue;
    if (!m->err && m->len >= sizeof(double)) {
      double sent;
      memcpy(&sent, m->payload, sizeof sent);
      if (sent > 0) samples[got++] = (now() - sent) * 1000;
    }
    rd_kafka_message_destroy(m);
  }
  pthread_join(thread, NULL);
  qsort(samples, got, sizeof(double), compare_double);
  qsort(acked, ackedCount, sizeof(double), compare_double);
#define PCT(a, n, q) (n ? a[(long)((n - 1) * (q))] : 0)
  printf("{\"messages\":%ld,\"sent\":%ld,\"seconds\":%.3f,\"errors\":%ld,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
         "\"max\":%.3f,\"ackP50\":%.3f,\"ackP99\":%.3f}\n",
         got, p.sent, seconds, failed, PCT(samples, got, 0.5), PCT(samples, got, 0.99), PCT(samples, got, 0.999),
         got ? samples[got - 1] : 0, PCT(acked, ackedCount, 0.5), PCT(acked, ackedCount, 0.99));
  free(samples);
  rd_kafka_destroy(p.rk);
  if (!consumer) return failed ? 1 : 0;
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return got == total && !failed ? 0 : 1;
}

/* CRC-32C (Castagnoli), bitwise table: the record batch checksum. */
static uint32_t crc32c(const unsigned char *p, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[i] = c;
    }
  uint32_t c = 0xFFFFFFFFu;
  while (n--) c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static unsigned char *put16(unsigned char *p, int v) { *p++ = v >> 8; *p++ = v; return p; }
static unsigned char *put32(unsigned char *p, uint32_t v) { for (int s = 24; s >= 0; s -= 8) *p++ = v >> s; return p; }
static unsigned char *put64(unsigned char *p, uint64_t v) { for (int s = 56; s >= 0; s -= 8) *p++ = v >> s; return p; }
static unsigned char *putvarint(unsigned char *p, long v) {
  unsigned long z = ((unsigned long)v << 1) ^ (unsigned long)(v >> 63);
  while (z >= 0x80) { *p++ = (z & 0x7F) | 0x80; z >>= 7; }
  *p++ = z;
  return p;
}

/* One Produce v3 request (size prefix included) carrying one record of `size` bytes to partition 0. */
static size_t small_request(unsigned char *out, const char *topic, int size) {
  unsigned char record[64 + 4096], *r = record;
  unsigned char body[128 + 4096];
  int value = size > 4096 ? 4096 : size;
  /* The record without its length prefix. */
  unsigned char *q = body;
  *q++ = 0;                 /* attributes */
  q = putvarint(q, 0);      /* timestamp delta */
  q = putvarint(q, 0);      /* offset delta */
  q = putvarint(q, -1);     /* no key */
  q = putvarint(q, value);
  memset(q, 'x', value);
  q += value;
  q = putvarint(q, 0);      /* no headers */
  r = putvarint(r, q - body);
  memcpy(r, body, q - body);
  r += q - body;
  size_t records = r - record;
  unsigned char batch[128 + 4096], *b = batch;
  uint64_t ts = (uint64_t)time(NULL) * 1000;
  b = put64(b, 0);                       /* base offset */
  b = put32(b, 49 + records);            /* batch length */
  b = put32(b, (uint32_t)-1);            /* partition leader epoch */
  *b++ = 2;                              /* magic */
  unsigned char *crc = b;
  b += 4;
  b = put16(b, 0);                       /* attributes */
  b = put32(b, 0);                       /* last offset delta */
  b = put64(b, ts);
  b = put64(b, ts);
  b = put64(b, (uint64_t)-1);            /* producer id */
  b = put16(b, -1);                      /* producer epoch */
  b = put32(b, (uint32_t)-1);            /* base sequence */
  b = put32(b, 1);                       /* records */
  memcpy(b, record, records);
  b += records;
  put32(crc, crc32c(crc + 4, b - (crc + 4)));
  size_t batchBytes = b - batch;
  unsigned char *o = out + 4;
  o = put16(o, 0);                       /* Produce */
  o = put16(o, 3);                       /* version 3 */
  o = put32(o, 0);                       /* correlation id */
  o = put16(o, 7);
  memcpy(o, "loadgen", 7);
  o += 7;
  o = put16(o, -1);                      /* no transactional id */
  o = put16(o, 1);                       /* acks=1 */
  o = put32(o, 30000);
  o = put32(o, 1);
  o = put16(o, strlen(topic));
  memcpy(o, topic, strlen(topic));
  o += strlen(topic);
  o = put32(o, 1);
  o = put32(o, 0);                       /* partition 0 */
  o = put32(o, batchBytes);
  memcpy(o, batch, batchBytes);
  o += batchBytes;
  put32(out, o - out - 4);
  return o - out;
}

/*
 * Small requests: `connections` sockets, each keeping `depth` Produce requests of one record in flight, for
 * `seconds`. Hand-encoded (one request built once, sent again and again) rather than through librdkafka,
 * whose cost per request would be the limit long before the broker's.
 */
static int small(const char *brokers, const char *topic, int connections, double seconds, int size) {
  const int depth = 8;
  char host[256];
  snprintf(host, sizeof host, "%s", brokers);
  char *colon = strrchr(host, ':');
  if (!colon) return 2;
  *colon = 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
  inet_pton(AF_INET, host, &addr.sin_addr);
  unsigned char request[256 + 4096 + 512];
  size_t requestBytes = small_request(request, topic, size);
  /* Expected response: correlation id, 1 topic (its name), 1 partition, index 0, then the error code. */
  size_t errorAt = 4 + 4 + 4 + 2 + strlen(topic) + 4 + 4;
  struct pollfd *fds = calloc(connections, sizeof *fds);
  unsigned char **in = calloc(connections, sizeof *in);
  size_t *inBytes = calloc(connections, sizeof *inBytes);
  unsigned char *burst = malloc(requestBytes * depth);
  for (int k = 0; k < depth; k++) memcpy(burst + k * requestBytes, request, requestBytes);
  for (int c = 0; c < connections; c++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr)) {
      perror("connect");
      return 2;
    }
    fds[c] = (struct pollfd){.fd = s, .events = POLLIN};
    in[c] = malloc(1 << 16);
  }
  long done = 0, errors = 0;
  double start = now(), end = start + seconds;
  for (int c = 0; c < connections; c++)
    if (write(fds[c].fd, burst, requestBytes * depth) != (ssize_t)(requestBytes * depth)) return 2;
  while (now() < end) {
    if (poll(fds, connections, 100) <= 0) continue;
    for (int c = 0; c < connections; c++) {
      if (!(fds[c].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[c].fd, in[c] + inBytes[c], (1 << 16) - inBytes[c]);
      if (n <= 0) {
        fprintf(stderr, "connection %d closed\n", c);
        return 1;
      }
      inBytes[c] += n;
      size_t at = 0;
      int answered = 0;
      while (inBytes[c] - at >= 4) {
        uint32_t len = (uint32_t)in[c][at] << 24 | in[c][at + 1] << 16 | in[c][at + 2] << 8 | in[c][at + 3];
        if (inBytes[c] - at < 4 + len) break;
        if (len < errorAt + 2 || in[c][at + errorAt] || in[c][at + errorAt + 1]) {
          if (errors++ == 0) fprintf(stderr, "small: a response carried an error\n");
        }
        at += 4 + len;
        answered++;
      }
      memmove(in[c], in[c] + at, inBytes[c] - at);
      inBytes[c] -= at;
      done += answered;
      if (answered && write(fds[c].fd, burst, requestBytes * answered) != (ssize_t)(requestBytes * answered)) return 2;
    }
  }
  double elapsed = now() - start;
  printf("{\"messages\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"errors\":%ld}\n", done, done * (long)size, elapsed, errors);
  for (int c = 0; c < connections; c++) close(fds[c].fd);
  return errors ? 1 : 0;
}

static int loopback(double seconds) {
  const size_t chunk = 1 << 20;
  int server = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (bind(server, (struct sockaddr *)&addr, sizeof addr) || listen(server, 1) ||
      getsockname(server, (struct sockaddr *)&addr, &len))
    return 2;
  pid_t child = fork();
  if (child == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr)) _exit(2);
    char *buf = calloc(1, chunk);
    for (;;)
      if (write(s, buf, chunk) < 0) _exit(0);
  }
  int s = accept(server, NULL, NULL);
  char *buf = malloc(chunk);
  long bytes = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    ssize_t n = read(s, buf, chunk);
    if (n <= 0) break;
    bytes += n;
  }
  double elapsed = now() - start;
  close(s);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  printf("{\"messages\":0,\"bytes\":%ld,\"seconds\":%.6f,\"errors\":0}\n", bytes, elapsed);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 9 && !strcmp(argv[1], "produce"))
    return produce(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), argv[6], argv[7], atoi(argv[8]),
                   argc >= 10 && !strcmp(argv[9], "idempotent"), 0);
  if (argc >= 7 && !strcmp(argv[1], "bulk"))
    return produce(argv[2], argv[3], 1L << 62, atoi(argv[5]), argv[6], "none", 1, 0, atof(argv[4]));
  if (argc >= 5 && !strcmp(argv[1], "consume"))
    return consume(argv[2], argv[3], atol(argv[4]), argc >= 6 ? atoi(argv[5]) : 1);
  if (argc >= 8 && !strcmp(argv[1], "latency"))
    return latency(argv[2], argv[3], atof(argv[4]), atof(argv[5]), atoi(argv[6]), argv[7], argc >= 9 ? atoi(argv[8]) : 1);
  if (argc >= 7 && !strcmp(argv[1], "small")) return small(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atoi(argv[6]));
  if (argc >= 3 && !strcmp(argv[1], "loopback")) return loopback(atof(argv[2]));
  fprintf(stderr, "usage: loadgen produce <brokers> <topic> <count> <bytes> <acks> <compression> <partitions> [idempotent]\n"
                  "       loadgen consume <brokers> <topic> <count> [passes]\n"
                  "       loadgen latency <brokers> <topic> <records/s> <seconds> <bytes> <acks> [consume]\n"
                  "       loadgen small <brokers> <topic> <connections> <seconds> <bytes>\n"
                  "       loadgen bulk <brokers> <topic> <seconds> <bytes> <acks>\n"
                  "       loadgen loopback <seconds>\n");
  return 2;
}
