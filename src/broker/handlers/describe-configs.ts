import { ErrorCode } from '../../protocol/errors.js';
import { describeConfigsApi } from '../../protocol/generated/apis/describe-configs.js';
import type { DescribeConfigsRequest } from '../../protocol/generated/messages/describe-configs-request.js';
import type {
  DescribeConfigsResponse,
  DescribeConfigsResponseDescribeConfigsResult,
} from '../../protocol/generated/messages/describe-configs-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, configResourceError } from '../authorization.js';
import {
  ConfigResourceType,
  ConfigSource,
  type DescribedConfig,
  describeBrokerConfigs,
  describeTopicConfigs,
} from '../config-describer.js';

/**
 * DescribeConfigs: every config of a topic (override or default, with its source and synonyms), of this broker
 * (by its id), or the cluster-wide dynamic defaults (broker ""). Each resource gets its own result and error.
 */
export const describeConfigsHandler = defineHandler<DescribeConfigsRequest, DescribeConfigsResponse>({
  api: describeConfigsApi,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    const results = request.resources.map((resource): DescribeConfigsResponseDescribeConfigsResult => {
      const result: DescribeConfigsResponseDescribeConfigsResult = {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
        configs: [],
      };
      // Kafka's check: DESCRIBE_CONFIGS on the topic, or on the cluster for the broker.
      const refused = configResourceError(
        ctx,
        AclOperation.DESCRIBE_CONFIGS,
        resource.resourceType,
        resource.resourceName,
      );
      if (refused !== ErrorCode.NONE) {
        result.errorCode = refused;
        return result;
      }
      let described: DescribedConfig[];
      if (resource.resourceType === ConfigResourceType.TOPIC) {
        const topic = broker.topics.get(resource.resourceName);
        if (!topic) {
          result.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          result.errorMessage = `Topic ${resource.resourceName} does not exist`;
          return result;
        }
        described = describeTopicConfigs(topic, broker.settings, resource.configurationKeys);
      } else if (resource.resourceType === ConfigResourceType.BROKER) {
        const name = resource.resourceName;
        const nodeId = broker.settings.nodeId;
        if (name !== '' && (!/^-?\d+$/.test(name) || Number(name) !== nodeId)) {
          result.errorCode = ErrorCode.INVALID_REQUEST;
          result.errorMessage = /^-?\d+$/.test(name)
            ? `Unexpected broker id, expected ${nodeId} or empty string, but received ${name}`
            : `Broker id must be an integer, but it is: ${name}`;
          return result;
        }
        described = describeBrokerConfigs(broker.settings, name, resource.configurationKeys);
      } else {
        result.errorCode = ErrorCode.INVALID_REQUEST;
        result.errorMessage = `Unsupported resource type ${resource.resourceType}`;
        return result;
      }
      result.configs = described.map((c) => ({
        name: c.name,
        value: c.value,
        readOnly: c.readOnly,
        isDefault: apiVersion === 0 && c.source === ConfigSource.DEFAULT_CONFIG,
        configSource: apiVersion >= 1 ? c.source : -1,
        isSensitive: c.sensitive,
        synonyms: apiVersion >= 1 && request.includeSynonyms ? c.synonyms : [],
        configType: apiVersion >= 3 ? c.configType : 0,
        documentation: null,
      }));
      return result;
    });
    return { throttleTimeMs: 0, results };
  },
});
