// A progress bar with live rates for each timed phase, fed by polling the workers' counters.
// The same polls make the throughput-over-time series of the charts.
import { SingleBar } from 'cli-progress';

export interface Tracked {
  /** [seconds since start, events per second over the last interval]. */
  timeline: [number, number][];
  /** Stops polling and clears the bar. */
  stop(): Promise<[number, number][]>;
}

const POLL_MS = 500;

/**
 * Shows `label` with a bar up to `total` (0: no known total) and the rate of `poll()`'s
 * count, polled every 500 ms, until stopped.
 */
export function track(label: string, total: number, poll: () => Promise<number>, unit = 'msg'): Tracked {
  const bar = new SingleBar({
    format: `  ${label.padEnd(34)} |{bar}| {value}/{total} {rate} ${unit}/s {elapsed}s`,
    barsize: 24,
    hideCursor: true,
    clearOnComplete: true,
    // Without a terminal (CI, piped output) the bar stays quiet; the log lines remain.
    noTTYOutput: false,
    stream: process.stderr,
  });
  const started = Date.now();
  const timeline: [number, number][] = [];
  let last = 0;
  let lastAt = started;
  let busy: Promise<void> = Promise.resolve();
  bar.start(Math.max(total, 1), 0, { rate: '0', elapsed: '0' });
  const timer = setInterval(() => {
    busy = poll().then(
      (value) => {
        const now = Date.now();
        const rate = ((value - last) * 1000) / Math.max(1, now - lastAt);
        timeline.push([(now - started) / 1000, rate]);
        last = value;
        lastAt = now;
        if (total === 0) bar.setTotal(Math.max(value, 1));
        bar.update(value, { rate: rate.toFixed(0), elapsed: ((now - started) / 1000).toFixed(0) });
      },
      () => undefined,
    );
  }, POLL_MS);
  return {
    timeline,
    stop: async () => {
      clearInterval(timer);
      await busy;
      bar.stop();
      return timeline;
    },
  };
}
