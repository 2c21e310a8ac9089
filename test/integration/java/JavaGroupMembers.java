import java.util.Collections;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Two members of one group, each a Java KafkaConsumer on its own thread, subscribe to `topic`. Prints the
 * partitions each holds once both hold some and together all `partitions` of them, then stops the first member
 * and prints what the second holds once it has all of them.
 *
 * usage: JavaGroupMembers <bootstrap> <topic> <group> <partitions>
 */
public class JavaGroupMembers {
  static final class Member extends Thread {
    final KafkaConsumer<byte[], byte[]> consumer;
    final AtomicBoolean running = new AtomicBoolean(true);
    volatile Set<Integer> held = Collections.emptySet();

    Member(String bootstrap, String topic, String group) {
      Properties c = new Properties();
      c.put("bootstrap.servers", bootstrap);
      c.put("group.id", group);
      c.put("session.timeout.ms", "10000");
      c.put("heartbeat.interval.ms", "500");
      c.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
      c.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
      consumer = new KafkaConsumer<>(c);
      consumer.subscribe(Collections.singletonList(topic));
    }

    @Override
    public void run() {
      try {
        while (running.get()) {
          consumer.poll(100);
          Set<Integer> now = new TreeSet<>();
          for (TopicPartition tp : consumer.assignment()) now.add(tp.partition());
          held = now;
        }
      } finally {
        // Leaves the group (LeaveGroup), so the other member takes over at once rather than after the session.
        consumer.close();
      }
    }
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0], topic = args[1], group = args[2];
    int partitions = Integer.parseInt(args[3]);
    Member first = new Member(bootstrap, topic, group);
    Member second = new Member(bootstrap, topic, group);
    first.start();
    second.start();
    long deadline = System.currentTimeMillis() + 30_000;
    while (!(shared(first.held, second.held, partitions)) && System.currentTimeMillis() < deadline) Thread.sleep(50);
    System.out.println("first " + first.held);
    System.out.println("second " + second.held);
    first.running.set(false);
    first.join();
    deadline = System.currentTimeMillis() + 30_000;
    while (second.held.size() != partitions && System.currentTimeMillis() < deadline) Thread.sleep(50);
    System.out.println("after-leave " + second.held);
    second.running.set(false);
    second.join();
  }

  /** Both members hold partitions, none twice, and together all of them. */
  static boolean shared(Set<Integer> a, Set<Integer> b, int partitions) {
    if (a.isEmpty() || b.isEmpty()) return false;
    Set<Integer> all = new TreeSet<>(a);
    all.addAll(b);
    return all.size() == partitions && a.size() + b.size() == partitions;
  }
}
