import { brokerConfigDefinition } from '../../config/dynamic-broker-config.js';
import { type ConfigKind, TOPIC_CONFIGS } from '../../config/topic-config.js';
import { ErrorCode } from '../../protocol/errors.js';
import { incrementalAlterConfigsApi } from '../../protocol/generated/apis/incremental-alter-configs.js';
import type {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsRequestAlterableConfig,
} from '../../protocol/generated/messages/incremental-alter-configs-request.js';
import type { IncrementalAlterConfigsResponse } from '../../protocol/generated/messages/incremental-alter-configs-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, configResourceError } from '../authorization.js';
import { alterResources, ConfigChangeRejected } from '../config-changes.js';
import { ConfigResourceType } from '../config-describer.js';

/** Kafka's AlterConfigOp.OpType codes. */
const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

function listItems(text: string | undefined): string[] {
  return text === undefined || text.trim() === '' ? [] : text.split(',').map((s) => s.trim());
}

/** The kind and default of a config of a resource type, for APPEND and SUBTRACT. */
type ConfigLookup = (name: string) => { kind: ConfigKind; default?: string } | undefined;

const topicConfig: ConfigLookup = (name) => TOPIC_CONFIGS[name];

/** Applies the operations to a copy of the overrides; APPEND and SUBTRACT work on list configs only. */
function applyOperations(
  current: Record<string, string>,
  ops: IncrementalAlterConfigsRequestAlterableConfig[],
  lookup: ConfigLookup,
): Record<string, string> {
  const next = { ...current };
  for (const op of ops) {
    const isList = lookup(op.name)?.kind === 'list';
    switch (op.configOperation) {
      case OpType.SET:
        if (op.value === null)
          throw new ConfigChangeRejected(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${op.name}`);
        next[op.name] = op.value;
        break;
      case OpType.DELETE:
        delete next[op.name];
        break;
      case OpType.APPEND:
      case OpType.SUBTRACT: {
        if (!isList)
          throw new ConfigChangeRejected(
            ErrorCode.INVALID_CONFIG,
            `Config value append is not allowed for config key: ${op.name}`,
          );
        const items = listItems(next[op.name] ?? lookup(op.name)?.default);
        const given = listItems(op.value ?? '');
        const result =
          op.configOperation === OpType.APPEND
            ? [...items, ...given.filter((g) => !items.includes(g))]
            : items.filter((i) => !given.includes(i));
        next[op.name] = result.join(',');
        break;
      }
      default:
        throw new ConfigChangeRejected(ErrorCode.INVALID_REQUEST, `Unknown config operation ${op.configOperation}`);
    }
  }
  return next;
}

/** IncrementalAlterConfigs (KIP-339): SET, DELETE, APPEND and SUBTRACT on individual config overrides. */
export const incrementalAlterConfigsHandler = defineHandler<
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse
>({
  api: incrementalAlterConfigsApi,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const { broker } = ctx;
    const responses = await alterResources(broker, request.resources, request.validateOnly, (r) => {
      // Kafka's check: ALTER_CONFIGS on the topic, or on the cluster for the broker.
      const refused = configResourceError(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
      if (refused !== ErrorCode.NONE) return { errorCode: refused, errorMessage: null };
      const names = r.configs.map((c) => c.name);
      if (new Set(names).size !== names.length)
        return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'A config name appears more than once' };
      const lookup = r.resourceType === ConfigResourceType.BROKER ? brokerConfigDefinition : topicConfig;
      return (current) => applyOperations(current, r.configs, lookup);
    });
    return { throttleTimeMs: 0, responses };
  },
});
