import type { Admin, Reader } from '@platformatic/kafka';
import { ErrorCode } from '../../protocol/errors.js';
import { ApiKey } from '../../protocol/generated/api-keys.js';
import { clientLibrary, clientOptions } from './client.js';
import type { ClientSecurity } from './client-security.js';

/** What `--describe` needs of a KIP-848 consumer group. */
export interface ConsumerGroupView {
  /** Kafka's name for the state: Empty, Assigning, Reconciling, Stable or Dead. */
  state: string;
  assignor: string;
  groupEpoch: number;
  assignmentEpoch: number;
  members: Array<{
    memberId: string;
    clientId: string;
    clientHost: string;
    assignment: Array<{ topic: string; partitions: number[] }>;
  }>;
}

/**
 * ConsumerGroupDescribe v0 at the group's coordinator. DescribeGroups describes only classic groups (Kafka answers
 * Dead for the others), so the tool asks this API when DescribeGroups finds nothing. The client library sends the
 * request; the response is read here because the library's own reader takes SubscribedTopicNames for a string
 * where the protocol has an array of them. Returns null when there is no such consumer group.
 */
export async function describeConsumerGroup(
  admin: Admin,
  bootstrap: string[],
  group: string,
  security: ClientSecurity = {},
): Promise<ConsumerGroupView | null> {
  const { Connection, consumerGroupDescribeV0 } = await clientLibrary();
  const [coordinator] = await admin.findCoordinator({ keyType: 0, keys: [group] });
  if (!coordinator) return null;
  const options = clientOptions(bootstrap, security);
  const connection = new Connection(options.clientId, { tls: options.tls, sasl: options.sasl });
  try {
    await connection.connect(coordinator.host, coordinator.port);
    const described = await new Promise<ConsumerGroupView | null>((resolve, reject) => {
      connection.send(
        ApiKey.ConsumerGroupDescribe,
        0,
        () => consumerGroupDescribeV0.createRequest([group], false),
        (_correlationId: number, _apiKey: number, _apiVersion: number, r: Reader) => readResponse(r),
        true,
        true,
        (error, view) => (error ? reject(error) : resolve(view ?? null)),
      );
    });
    return described;
  } finally {
    await connection.close().catch(() => {});
  }
}

function readAssignment(r: Reader): Array<{ topic: string; partitions: number[] }> {
  return r.readArray((t) => {
    t.readUUID();
    const topic = t.readString();
    return { topic, partitions: t.readArray((p) => p.readInt32(), true, false) };
  });
}

function readResponse(r: Reader): ConsumerGroupView | null {
  r.readInt32(); // throttle time
  const groups = r.readArray((g) => {
    const errorCode = g.readInt16();
    g.readNullableString(); // error message
    g.readString(); // group id
    const state = g.readString();
    const groupEpoch = g.readInt32();
    const assignmentEpoch = g.readInt32();
    const assignor = g.readString();
    const members = g.readArray((m) => {
      const memberId = m.readString();
      m.readNullableString(); // instance id
      m.readNullableString(); // rack id
      m.readInt32(); // member epoch
      const clientId = m.readString();
      const clientHost = m.readString();
      m.readArray((s) => s.readString(), true, false); // subscribed topic names
      m.readNullableString(); // subscribed topic regex
      const assignment = readAssignment(m);
      m.readTaggedFields();
      readAssignment(m); // target assignment
      m.readTaggedFields();
      return { memberId, clientId, clientHost, assignment };
    });
    g.readInt32(); // authorized operations
    return { errorCode, state, groupEpoch, assignmentEpoch, assignor, members };
  });
  const found = groups[0];
  if (!found || found.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return null;
  if (found.errorCode !== 0) throw new Error(`ConsumerGroupDescribe failed with error code ${found.errorCode}`);
  return {
    state: found.state,
    assignor: found.assignor,
    groupEpoch: found.groupEpoch,
    assignmentEpoch: found.assignmentEpoch,
    members: found.members,
  };
}
