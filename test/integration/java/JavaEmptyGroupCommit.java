import java.util.Collections;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * A consumer without group.id, as 0.9 and 0.10 applications ran: the client takes the group id "" and commits
 * there (FindCoordinator, then a "simple" OffsetCommit without generation). Commits `offset` for partition 0 of
 * `topic` with one consumer, then prints what a second consumer without group.id reads back.
 *
 * usage: JavaEmptyGroupCommit <bootstrap> <topic> <offset>
 */
public class JavaEmptyGroupCommit {
  static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
    Properties c = new Properties();
    c.put("bootstrap.servers", bootstrap);
    c.put("enable.auto.commit", "false");
    c.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    c.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    return new KafkaConsumer<>(c);
  }

  public static void main(String[] args) {
    String bootstrap = args[0];
    TopicPartition tp = new TopicPartition(args[1], 0);
    long offset = Long.parseLong(args[2]);
    KafkaConsumer<byte[], byte[]> writer = consumer(bootstrap);
    try {
      writer.assign(Collections.singletonList(tp));
      writer.commitSync(Collections.singletonMap(tp, new OffsetAndMetadata(offset, "no-group")));
    } finally {
      writer.close();
    }
    KafkaConsumer<byte[], byte[]> reader = consumer(bootstrap);
    try {
      reader.assign(Collections.singletonList(tp));
      OffsetAndMetadata committed = reader.committed(tp);
      System.out.println(committed == null ? "committed none" : "committed " + committed.offset() + " " + committed.metadata());
    } finally {
      reader.close();
    }
  }
}
