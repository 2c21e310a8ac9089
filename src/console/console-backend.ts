import type { TopicMetadata, TopicRecord } from '../cluster/topic-metadata.js';
import type { BrokerSettings } from '../config/broker-settings.js';
import type { GroupCoordinator } from '../coordinator/group/group-coordinator.js';
import type { LogManager } from '../storage/log-manager.js';

/** The outcome of a change, as the Kafka API that made it answered. */
export interface ChangeResult {
  errorCode: number;
  errorMessage: string | null;
}

/** A broker of the cluster, as Metadata and DescribeCluster describe it. */
export interface ConsoleBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** A config as DescribeConfigs describes it. */
export interface ConsoleConfig {
  name: string;
  value: string | null;
  /** Kafka's source name: DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG, ... */
  source: string;
  readOnly: boolean;
  sensitive: boolean;
}

/** Totals since start-up of the broker's BrokerTopicMetrics over all topics. */
export interface ThroughputTotals {
  messagesIn: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * What the console uses of the broker. Reads go to the broker's own services (topic metadata, logs, group
 * coordinator); changes go through the broker's Kafka API handlers, called in the process, so that the console
 * is held to the same checks and answers as any Kafka client.
 */
export interface ConsoleBackend {
  readonly settings: BrokerSettings;
  readonly clusterId: string;
  readonly version: string;
  readonly topics: TopicMetadata;
  readonly logs: LogManager;
  readonly groups: GroupCoordinator;
  brokers(): ConsoleBroker[];
  /** Every config of a topic (DescribeConfigs). */
  topicConfigs(topic: TopicRecord): ConsoleConfig[];
  /** CreateTopics with one topic. */
  createTopic(
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
  ): Promise<ChangeResult>;
  /** DeleteTopics with one topic. */
  deleteTopic(name: string): Promise<ChangeResult>;
  /** IncrementalAlterConfigs on a topic: SET `value`, or DELETE the override when it is null. */
  alterTopicConfig(topic: string, name: string, value: string | null): Promise<ChangeResult>;
  throughput(): ThroughputTotals;
}
