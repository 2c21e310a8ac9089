import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apis,
  decodeApiVersionsRequest,
  decodeRequestHeader,
  defaultFetchResponsePartitionData,
  encodeApiVersionsResponse,
  encodeMetadataRequest,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/generated/index.js';
import { Reader, Writer } from '../../src/protocol/primitives/index.js';

// Byte layouts assembled by hand from Kafka's protocol documentation, independent of the generator.

test('an ApiVersions v3 request with its v2 header, as clients send it', () => {
  const bytes = Buffer.from(
    [
      '0012', // api key 18
      '0003', // api version 3
      '00000007', // correlation id
      '0004', // client id: int16 length even in header v2 (never compact)
      Buffer.from('kcat').toString('hex'),
      '00', // header tagged fields
      '0b', // compact string length + 1 = 11
      Buffer.from('librdkafka').toString('hex'),
      '06',
      Buffer.from('2.3.0').toString('hex'),
      '00', // body tagged fields
    ].join(''),
    'hex',
  );
  const r = new Reader(bytes);
  assert.equal(requestHeaderVersion(18, 3), 2);
  const header = decodeRequestHeader(r, 2);
  assert.deepEqual({ ...header }, { requestApiKey: 18, requestApiVersion: 3, correlationId: 7, clientId: 'kcat' });
  const body = decodeApiVersionsRequest(r, 3);
  assert.equal(body.clientSoftwareName, 'librdkafka');
  assert.equal(body.clientSoftwareVersion, '2.3.0');
  assert.equal(r.remaining, 0);
});

test('a Metadata v0 request body and an ApiVersions v0 response', () => {
  const w = new Writer();
  encodeMetadataRequest(w, 0, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'a' }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  assert.equal(w.toBuffer().toString('hex'), '00000001' + '0001' + '61');

  const res = new Writer();
  encodeApiVersionsResponse(res, 0, {
    errorCode: 0,
    apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
  });
  assert.equal(res.toBuffer().toString('hex'), '0000' + '00000001' + '0000' + '0000' + '000b');
  assert.equal(responseHeaderVersion(18, 3), 0, 'ApiVersions responses keep header v0');
  assert.equal(responseHeaderVersion(0, 9), 1);
  assert.equal(apis.Produce.flexibleMin, 9);
});

test('a tagged struct in a Fetch v12 partition: tag 1, size, then the struct', () => {
  const p = {
    ...defaultFetchResponsePartitionData(),
    partitionIndex: 3,
    currentLeader: { leaderId: 5, leaderEpoch: 9 },
  };
  const w = new Writer();
  // Encode through the public response type: a one-partition response.
  apis.Fetch.encodeResponse(w, 12, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{ topic: 't', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [p] }],
    nodeEndpoints: [],
  });
  const hex = w.toBuffer().toString('hex');
  // ... partition fields, then records (compact null: 00), then the tag section: 1 field, tag 1, 9 bytes.
  assert.ok(hex.endsWith('00' + '01' + '01' + '09' + '00000005' + '00000009' + '00' + '00' + '00'), hex);
});
