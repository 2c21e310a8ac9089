import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Kafka's own Java client against a broker: produces `count` keyed records (acks=all, the given compression),
 * then a consumer of group `group` subscribes, reads and commits `half` of them, closes, and a second consumer of
 * the same group reads the rest from the committed offsets. Prints one line per step for the test to check.
 *
 * usage: JavaClientRoundTrip <bootstrap> <topic> <group> <count> <compression>
 */
public class JavaClientRoundTrip {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0], topic = args[1], group = args[2], compression = args[4];
    int count = Integer.parseInt(args[3]);
    int half = count / 2;

    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("acks", "all");
    p.put("compression.type", compression);
    p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
    p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
    List<Future<RecordMetadata>> sends = new ArrayList<>();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < count; i++) sends.add(producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
      producer.flush();
      long last = -1;
      for (Future<RecordMetadata> s : sends) last = Math.max(last, s.get().offset());
      System.out.println("produced " + count + " last-offset " + last);
    }

    List<String> seen = new ArrayList<>();
    readAndCommit(bootstrap, topic, group, half, seen);
    System.out.println("first-consumer " + seen.size());
    readAndCommit(bootstrap, topic, group, count - half, seen);
    System.out.println("second-consumer " + (seen.size() - half));
    // Each record once, whatever the partition (order holds within a partition only).
    Set<String> distinct = new HashSet<>(seen);
    for (int i = 0; i < count; i++) {
      if (!distinct.contains("k" + i + "=v" + i)) throw new IllegalStateException("record k" + i + " not read");
    }
    System.out.println("distinct " + distinct.size());
  }

  /** Subscribes as a member of `group`, reads `want` records, commits exactly those, and leaves the group. */
  static void readAndCommit(String bootstrap, String topic, String group, int want, List<String> seen) {
    Properties c = new Properties();
    c.put("bootstrap.servers", bootstrap);
    c.put("group.id", group);
    c.put("enable.auto.commit", "false");
    c.put("auto.offset.reset", "earliest");
    c.put("max.poll.records", "1000000");
    c.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    c.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
      consumer.subscribe(Collections.singletonList(topic));
      int got = 0;
      long deadline = System.currentTimeMillis() + 30_000;
      while (got < want && System.currentTimeMillis() < deadline) {
        ConsumerRecords<String, String> records = consumer.poll(200);
        for (TopicPartition tp : records.partitions()) {
          for (ConsumerRecord<String, String> r : records.records(tp)) {
            if (got == want) {
              // Past what this consumer is to read: rewind so that the commit below covers only what it read.
              consumer.seek(tp, r.offset());
              break;
            }
            seen.add(r.key() + "=" + r.value());
            got++;
          }
        }
      }
      if (got < want) throw new IllegalStateException("read " + got + " of " + want + " records in 30 s");
      consumer.commitSync();
    }
  }
}
