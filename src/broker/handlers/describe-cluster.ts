import { listenerNameFor } from '../../config/broker-settings.js';
import { ErrorCode } from '../../protocol/errors.js';
import { describeClusterApi } from '../../protocol/generated/apis/describe-cluster.js';
import type { DescribeClusterRequest } from '../../protocol/generated/messages/describe-cluster-request.js';
import type { DescribeClusterResponse } from '../../protocol/generated/messages/describe-cluster-response.js';
import { CLUSTER_RESOURCE_NAME } from '../../security/acl.js';
import { AUTHORIZED_OPERATIONS_OMITTED, defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster, authorizedOperations, ResourceType } from '../authorization.js';
import { brokersOn } from './metadata.js';

/** DescribeClusterRequest.EndpointType (v1+): brokers, or controllers (asked of controllers only). */
const ENDPOINT_TYPE_BROKERS = 1;

/**
 * DescribeCluster (KIP-700): the cluster id, its live brokers (on the listener the request came in on) and the
 * controller elected through the metadata store. With the embedded metadata store the broker is its own controller.
 */
export const describeClusterHandler = defineHandler<DescribeClusterRequest, DescribeClusterResponse>({
  api: describeClusterApi,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx, request) {
    const { apiVersion, broker, connection } = ctx;
    const listenerName = listenerNameFor(broker.settings, connection.socket.localPort);
    const response: DescribeClusterResponse = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: ENDPOINT_TYPE_BROKERS,
      clusterId: broker.clusterId,
      controllerId: broker.cluster.controllerId,
      brokers: brokersOn(broker.cluster, listenerName).map(({ nodeId, host, port, rack }) => ({
        brokerId: nodeId,
        host,
        port,
        rack,
      })),
      // Kafka answers the operations only to a principal that may DESCRIBE the cluster (0 to others).
      clusterAuthorizedOperations: !request.includeClusterAuthorizedOperations
        ? AUTHORIZED_OPERATIONS_OMITTED
        : authorizeCluster(ctx, AclOperation.DESCRIBE)
          ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
          : 0,
    };
    if (apiVersion >= 1 && request.endpointType !== ENDPOINT_TYPE_BROKERS) {
      response.errorCode = ErrorCode.UNSUPPORTED_ENDPOINT_TYPE;
      response.errorMessage = `The endpoint type ${request.endpointType} is not supported by a broker`;
      response.endpointType = request.endpointType;
      response.brokers = [];
    }
    return response;
  },
});
