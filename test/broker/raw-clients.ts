import { RawClient } from '../integration/raw-client.js';

/** Raw connections a test file opens, closed together when it ends. */
export function rawClientPool(defaultPort: () => number): {
  connect(port?: number): Promise<RawClient>;
  closeAll(): void;
} {
  const clients: RawClient[] = [];
  return {
    async connect(port = defaultPort()) {
      const c = await RawClient.connect(port);
      clients.push(c);
      return c;
    },
    closeAll() {
      for (const c of clients) c.close();
    },
  };
}
