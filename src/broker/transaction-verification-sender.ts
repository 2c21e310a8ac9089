import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiKey } from '../protocol/generated/api-keys.js';
import { addPartitionsToTxnApi } from '../protocol/generated/apis/add-partitions-to-txn.js';
import { apiVersionsApi } from '../protocol/generated/apis/api-versions.js';
import type { AddPartitionsToTxnRequestAddPartitionsToTxnTransaction } from '../protocol/generated/messages/add-partitions-to-txn-request.js';
import type { AddPartitionsToTxnResponse } from '../protocol/generated/messages/add-partitions-to-txn-response.js';
import {
  INTER_BROKER_REQUEST_TIMEOUT_MS,
  type InterBrokerClient,
  type InterBrokerConnection,
} from './inter-broker-client.js';

/** AddPartitionsToTxn v4: the first with VerifyOnly and several transactions per request (brokers only). */
const VERIFY_VERSION = 4;
/** ApiVersions v3: the version brokers of every Samsa version answer with their ranges. */
const API_VERSIONS_VERSION = 3;

/** A partition leader's question about one partition of a producer's transaction. */
export interface VerificationQuestion {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  topic: string;
  partition: number;
}

interface Waiting extends VerificationQuestion {
  answer(code: number): void;
}

/**
 * A partition leader's transaction verifications sent to the coordinators on other brokers (Kafka's
 * AddPartitionsToTxnManager): AddPartitionsToTxn v4 with VerifyOnly, one request in flight per coordinator, on a
 * connection kept open; the questions that arrive meanwhile go together in the next request. Each question is
 * answered with the coordinator's code for its partition, NETWORK_EXCEPTION when the coordinator could not be
 * reached or the connection was lost (a new one is opened for the next request).
 */
export class TransactionVerificationSender {
  private readonly queued = new Map<number, Waiting[]>();
  private readonly sending = new Set<number>();
  private readonly connections = new Map<number, InterBrokerConnection>();
  private stopped = false;
  /** Coordinators' refusals of the whole request already logged, as `coordinator:errorCode`. */
  private readonly refusals = new Set<string>();
  /** Connections to coordinators whose AddPartitionsToTxn has no VerifyOnly (an earlier version). */
  private readonly unverifiable = new WeakSet<InterBrokerConnection>();

  constructor(
    private readonly nodeId: number,
    private readonly client: InterBrokerClient,
    private readonly logger: Logger,
  ) {}

  /** The coordinator's code for the question's partition: NONE when it is in the producer's open transaction. */
  verify(coordinator: number, question: VerificationQuestion): Promise<number> {
    if (this.stopped) return Promise.resolve(ErrorCode.NETWORK_EXCEPTION);
    return new Promise((answer) => {
      const waiting = this.queued.get(coordinator) ?? [];
      waiting.push({ ...question, answer });
      this.queued.set(coordinator, waiting);
      if (!this.sending.has(coordinator)) void this.send(coordinator);
    });
  }

  /** Closes the connections; questions asked from now on are answered NETWORK_EXCEPTION. */
  stop(): void {
    this.stopped = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private async send(coordinator: number): Promise<void> {
    this.sending.add(coordinator);
    try {
      for (;;) {
        const waiting = this.queued.get(coordinator);
        if (!waiting || waiting.length === 0) return;
        // The request holds one entry per transactional id: a question about another producer id or epoch of the
        // same id goes in the next request, ahead of those that arrive meanwhile.
        const byId = new Map<string, Waiting[]>();
        const later: Waiting[] = [];
        for (const w of waiting) {
          const same = byId.get(w.transactionalId);
          if (!same) byId.set(w.transactionalId, [w]);
          else if (same[0]!.producerId === w.producerId && same[0]!.producerEpoch === w.producerEpoch) same.push(w);
          else later.push(w);
        }
        if (later.length > 0) this.queued.set(coordinator, later);
        else this.queued.delete(coordinator);
        let codes: (transactionalId: string, topic: string, partition: number) => number;
        try {
          codes = await this.ask(coordinator, [...byId.values()]);
        } catch (error) {
          // Not an outage (ask answers those): every question is still answered, so that no producer waits for ever.
          this.logger.error('transaction verification failed', { coordinator, error: error as Error });
          codes = () => ErrorCode.NETWORK_EXCEPTION;
        }
        for (const group of byId.values())
          for (const w of group) w.answer(codes(w.transactionalId, w.topic, w.partition));
      }
    } finally {
      this.sending.delete(coordinator);
    }
  }

  /** Sends one request; the code of each partition asked about. */
  private async ask(
    coordinator: number,
    groups: Waiting[][],
  ): Promise<(transactionalId: string, topic: string, partition: number) => number> {
    const transactions: AddPartitionsToTxnRequestAddPartitionsToTxnTransaction[] = groups.map((group) => {
      const topics = new Map<string, number[]>();
      for (const w of group) topics.set(w.topic, [...(topics.get(w.topic) ?? []), w.partition]);
      return {
        transactionalId: group[0]!.transactionalId,
        producerId: group[0]!.producerId,
        producerEpoch: group[0]!.producerEpoch,
        verifyOnly: true,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
      };
    });
    let response: AddPartitionsToTxnResponse;
    try {
      if (this.stopped) throw new Error('stopped');
      let connection = this.connections.get(coordinator);
      if (!connection) {
        connection = this.client.connect(coordinator, `transaction-verifier-${this.nodeId}`);
        this.connections.set(coordinator, connection);
        // A broker of an earlier version does not know VerifyOnly (it would close the connection): asked first,
        // once per connection, as Kafka's client learns the versions; then the batches go unverified, as in Kafka.
        const versions = await connection.request(
          apiVersionsApi,
          API_VERSIONS_VERSION,
          { clientSoftwareName: 'samsa', clientSoftwareVersion: '0' },
          INTER_BROKER_REQUEST_TIMEOUT_MS,
        );
        const range = versions.apiKeys.find((k) => k.apiKey === ApiKey.AddPartitionsToTxn);
        if (!range || range.maxVersion < VERIFY_VERSION) this.unverifiable.add(connection);
      }
      if (this.unverifiable.has(connection)) return () => ErrorCode.NONE;
      response = await connection.request(
        addPartitionsToTxnApi,
        VERIFY_VERSION,
        {
          transactions,
          v3AndBelowTransactionalId: '',
          v3AndBelowProducerId: 0n,
          v3AndBelowProducerEpoch: 0,
          v3AndBelowTopics: [],
        },
        INTER_BROKER_REQUEST_TIMEOUT_MS,
      );
    } catch {
      // Not live, unreachable, or the connection lost (Kafka's disconnected response): the producer retries.
      this.connections.get(coordinator)?.close();
      this.connections.delete(coordinator);
      return () => ErrorCode.NETWORK_EXCEPTION;
    }
    if (response.errorCode !== ErrorCode.NONE) {
      // A configuration matter (the broker's ACLs): said once per coordinator and error, not for every batch.
      const refusal = `${coordinator}:${response.errorCode}`;
      if (!this.refusals.has(refusal)) {
        this.refusals.add(refusal);
        this.logger.warn('transaction verification refused by the coordinator', {
          coordinator,
          errorCode: response.errorCode,
        });
      }
      // As Kafka: a broker not allowed to ask (CLUSTER_ACTION) does not expose that error to the producer.
      const code =
        response.errorCode === ErrorCode.CLUSTER_AUTHORIZATION_FAILED
          ? ErrorCode.INVALID_TXN_STATE
          : response.errorCode;
      return () => code;
    }
    const codes = new Map<string, number>();
    for (const t of response.resultsByTransaction)
      for (const topic of t.topicResults)
        for (const p of topic.resultsByPartition)
          codes.set(`${t.transactionalId}\u0000${topic.name}\u0000${p.partitionIndex}`, p.partitionErrorCode);
    // A partition the answer leaves out was not verified.
    return (transactionalId, topic, partition) =>
      codes.get(`${transactionalId}\u0000${topic}\u0000${partition}`) ?? ErrorCode.INVALID_TXN_STATE;
  }
}
