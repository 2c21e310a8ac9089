import type { Admin, Connection, Reader as LibraryReader } from '@platformatic/kafka';
import type { ApiCodecs } from '../../protocol/generated/index.js';
import { Reader, Writer } from '../../protocol/primitives/index.js';
import { clientLibrary, clientOptions } from './client.js';
import type { ClientSecurity } from './client-security.js';

/** ApiVersions keeps the version 0 response header even in its flexible versions (Kafka's exception). */
const API_VERSIONS_KEY = 18;

/**
 * A connection to one broker, through the client library (which does TLS and SASL), for the requests the
 * library has no call for (WriteTxnMarkers) or reads differently from Kafka: bodies are encoded and decoded with
 * Samsa's generated codecs, the library writes the header and frames them.
 */
export class BrokerConnection {
  private constructor(
    private readonly connection: Connection,
    private readonly library: Awaited<ReturnType<typeof clientLibrary>>,
  ) {}

  static async open(
    host: string,
    port: number,
    bootstrap: string[],
    security: ClientSecurity,
  ): Promise<BrokerConnection> {
    const library = await clientLibrary();
    const options = clientOptions(bootstrap, security);
    const connection = new library.Connection(options.clientId, {
      tls: options.tls,
      sasl: options.sasl,
      requestTimeout: options.timeout,
    });
    await connection.connect(host, port);
    return new BrokerConnection(connection, library);
  }

  request<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req): Promise<Res> {
    const flexible = api.flexibleMin !== null && version >= api.flexibleMin;
    return new Promise((resolve, reject) => {
      this.connection.send(
        api.key,
        version,
        () => {
          const w = new Writer();
          api.encodeRequest(w, version, body);
          return this.library.Writer.create().append(w.toBuffer());
        },
        (_correlationId: number, _apiKey: number, _apiVersion: number, r: LibraryReader) =>
          api.decodeResponse(new Reader(r.buffer.slice(r.position)), version),
        flexible,
        flexible && api.key !== API_VERSIONS_KEY,
        (error, response) => (error ? reject(error) : resolve(response as Res)),
      );
    });
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => {});
  }
}

/**
 * A connection to the controller the metadata names (any broker when it names none), where Kafka's admin client
 * sends ElectLeaders and reassignments.
 */
export async function openController(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
): Promise<BrokerConnection> {
  const metadata = await admin.metadata({ topics: [] });
  const node = metadata.brokers.get(metadata.controllerId) ?? [...metadata.brokers.values()][0];
  if (!node) throw new Error('no broker in the metadata');
  return BrokerConnection.open(node.host, node.port, bootstrap, security);
}
