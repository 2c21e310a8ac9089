import { statfs } from 'node:fs/promises';
import { ErrorCode } from '../../protocol/errors.js';
import { describeLogDirsApi } from '../../protocol/generated/apis/describe-log-dirs.js';
import type { DescribeLogDirsRequest } from '../../protocol/generated/messages/describe-log-dirs-request.js';
import type {
  DescribeLogDirsResponse,
  DescribeLogDirsResponseDescribeLogDirsResult,
  DescribeLogDirsResponseDescribeLogDirsTopic,
} from '../../protocol/generated/messages/describe-log-dirs-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';

/** The space of the file system holding a dir, or -1s when it cannot be read (as Kafka reports unknowns). */
async function space(dir: string): Promise<{ totalBytes: bigint; usableBytes: bigint }> {
  try {
    const s = await statfs(dir, { bigint: true });
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
  } catch {
    return { totalBytes: -1n, usableBytes: -1n };
  }
}

/** DescribeLogDirs: each log dir with the size of the partitions it holds (all, or those asked for). */
export const describeLogDirsHandler = defineHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>({
  api: describeLogDirsApi,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's check: DESCRIBE on the cluster, else no log dirs (and the error from v3).
    if (!authorizeCluster(ctx, AclOperation.DESCRIBE))
      return {
        throttleTimeMs: 0,
        errorCode: apiVersion >= 3 ? ErrorCode.CLUSTER_AUTHORIZATION_FAILED : ErrorCode.NONE,
        results: [],
      };
    const wanted =
      request.topics === null ? null : new Map(request.topics.map((t) => [t.topic, new Set(t.partitions)]));
    const results: DescribeLogDirsResponseDescribeLogDirsResult[] = [];
    for (const [dir, logs] of broker.logs.logsByDir()) {
      const byTopic = new Map<string, DescribeLogDirsResponseDescribeLogDirsTopic>();
      for (const log of logs) {
        if (wanted && !wanted.get(log.topic)?.has(log.partition)) continue;
        let topic = byTopic.get(log.topic);
        if (!topic) {
          topic = { name: log.topic, partitions: [] };
          byTopic.set(log.topic, topic);
        }
        topic.partitions.push({
          partitionIndex: log.partition,
          partitionSize: BigInt(log.sizeInBytes),
          offsetLag: 0n,
          isFutureKey: false,
        });
      }
      const { totalBytes, usableBytes } = apiVersion >= 4 ? await space(dir) : { totalBytes: -1n, usableBytes: -1n };
      results.push({ errorCode: ErrorCode.NONE, logDir: dir, topics: [...byTopic.values()], totalBytes, usableBytes });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results };
  },
});
