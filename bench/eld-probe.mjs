// Preloaded into the broker process by the bench (node --import): on SIGUSR2, prints the event-loop delay
// seen since the previous signal, and the process's memory (MB), as one `samsa-bench-eld {...}` line on standard error, then starts afresh.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
process.on('SIGUSR2', () => {
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const m = process.memoryUsage();
  const mb = (b) => Math.round(b / 1e6);
  const line = {
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    memory: {
      rss: mb(m.rss),
      heapUsed: mb(m.heapUsed),
      heapTotal: mb(m.heapTotal),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
    },
  };
  process.stderr.write(`samsa-bench-eld ${JSON.stringify(line)}\n`);
  histogram.reset();
});
