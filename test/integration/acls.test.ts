import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;
const run = promisify(execFile);

/** Kafka's ACL enums as on the wire: resource type TOPIC, pattern LITERAL, operation READ, permission ALLOW. */
const TOPIC = 2;
const LITERAL = 3;
const ANY = 1;
const READ = 3;
const ALLOW = 3;

let broker: Broker;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker.stop();
});

test('ACL APIs are advertised and answer SECURITY_DISABLED as Kafka without an authorizer, in every version', async () => {
  const client = await RawClient.connect(broker.port);
  try {
    const versions = await client.request(apis.ApiVersions, 3, {
      clientSoftwareName: 'test',
      clientSoftwareVersion: '1',
    });
    for (const api of [apis.DescribeAcls, apis.CreateAcls, apis.DeleteAcls]) {
      const advertised = versions.apiKeys.find((k) => k.apiKey === api.key);
      assert.deepEqual([advertised?.minVersion, advertised?.maxVersion], [0, 3], api.name);
    }

    for (let version = 0; version <= 3; version++) {
      const described = await client.request(apis.DescribeAcls, version, {
        resourceTypeFilter: TOPIC,
        resourceNameFilter: null,
        patternTypeFilter: version >= 1 ? ANY : LITERAL,
        principalFilter: null,
        hostFilter: null,
        operation: ANY,
        permissionType: ANY,
      });
      assert.deepEqual(
        [described.errorCode, described.errorMessage, described.resources],
        [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured on the broker', []],
      );

      const acl = {
        resourceType: TOPIC,
        resourceName: 'orders',
        resourcePatternType: LITERAL,
        principal: 'User:alice',
        host: '*',
        operation: READ,
        permissionType: ALLOW,
      };
      const created = await client.request(apis.CreateAcls, version, {
        creations: [acl, { ...acl, host: '10.0.0.1' }],
      });
      assert.deepEqual(
        created.results.map((r) => [r.errorCode, r.errorMessage]),
        [
          [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.'],
          [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.'],
        ],
        'one result per creation',
      );

      const filter = {
        resourceTypeFilter: TOPIC,
        resourceNameFilter: 'orders',
        patternTypeFilter: LITERAL,
        principalFilter: null,
        hostFilter: null,
        operation: ANY,
        permissionType: ANY,
      };
      const deleted = await client.request(apis.DeleteAcls, version, { filters: [filter, filter, filter] });
      assert.deepEqual(
        deleted.filterResults.map((r) => [r.errorCode, r.errorMessage, r.matchingAcls]),
        Array(3).fill([ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.', []]),
        'one result per filter',
      );
    }
  } finally {
    client.close();
  }
});

test('KafkaJS: describeAcls and createAcls fail with SECURITY_DISABLED', async () => {
  const kafka = new Kafka({ clientId: 'acls', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await assert.rejects(
      admin.describeAcls({
        resourceType: AclResourceTypes.TOPIC,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      }),
      (e: Error & { type?: string }) => e.type === 'SECURITY_DISABLED',
    );
    await assert.rejects(
      admin.createAcls({
        acl: [
          {
            resourceType: AclResourceTypes.TOPIC,
            resourceName: 'orders',
            resourcePatternType: ResourcePatternTypes.LITERAL,
            principal: 'User:alice',
            host: '*',
            operation: AclOperationTypes.READ,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      }),
      (e: Error & { type?: string }) => e.type === 'SECURITY_DISABLED',
    );
  } finally {
    await admin.disconnect();
  }
});

test('kafka-python: the broker version is inferred from DescribeAcls v2, and describe_acls raises SecurityDisabledError', async () => {
  const script = `
import json, sys
from kafka import KafkaClient
from kafka.admin import (KafkaAdminClient, ACLFilter, ACLOperation, ACLPermissionType,
                         ResourcePatternFilter, ResourceType, ACLResourcePatternType)
import kafka.errors as Errors
client = KafkaClient(bootstrap_servers=sys.argv[1])
inferred = client.check_version()
client.close()
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
acl_filter = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
    resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, None, ACLResourcePatternType.ANY))
try:
    admin.describe_acls(acl_filter)
    raised = None
except Errors.KafkaError as e:
    raised = type(e).__name__
admin.close()
print(json.dumps({"inferred": list(inferred), "admin": list(admin.config["api_version"]), "raised": raised}))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap], { timeout: 60_000 });
  // kafka-python 2.0's newest probe: a broker serving DescribeAcls v2 is at least Kafka 2.5.
  assert.deepEqual(JSON.parse(stdout), { inferred: [2, 5, 0], admin: [2, 5, 0], raised: 'SecurityDisabledError' });
});
