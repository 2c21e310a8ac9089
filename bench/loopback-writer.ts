// Child process of the loopback measurement: writes 1 MiB chunks to the given port for the given seconds.
import { connect } from 'node:net';

const [port, seconds] = process.argv.slice(2).map(Number) as [number, number];
const chunk = Buffer.alloc(1024 * 1024, 0x61);
const socket = connect(port, '127.0.0.1', () => {
  const end = performance.now() + seconds * 1000;
  const pump = () => {
    while (performance.now() < end) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
});
