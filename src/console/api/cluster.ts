import type { ApiRoute } from '../api-route.js';
import { ok } from '../api-route.js';

/** The cluster and its brokers (what DescribeCluster tells), and whether the console may change anything. */
export const clusterRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/cluster$/,
  changes: false,
  handle(backend) {
    const { settings } = backend;
    return ok({
      clusterId: backend.clusterId,
      version: backend.version,
      controllerId: settings.nodeId,
      brokers: backend.brokers(),
      readOnly: settings.consoleReadOnly === true,
      topicCount: [...backend.topics.all()].length,
      partitionCount: [...backend.logs.allLogs()].length,
    });
  },
};
