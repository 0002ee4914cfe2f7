// The idle-memory bench's results: per-connection figures, the console table and the Markdown.
import type { MemorySample, Transport } from './memory.js';

/** The server's stated budget for one idle, logged-in plain TCP connection. */
export const TARGET_BYTES = 5 * 1024;

/** One run on a fresh server process: memory before and after N more connections, and how fast they came. */
export interface Run {
  before: MemorySample;
  after: MemorySample;
  /** Logged-in connections added between `before` and `after`, as the server counted them. */
  held: number;
  /** Connections the clients could not open or log in. */
  failed: number;
  firstError: string | undefined;
  /** Logged in, then closed by the server before the run ended (should be 0). */
  dropped: number;
  /** Frames pushed to connections after their login (should be 0 while idle). */
  strayFrames: number;
  /** Wall time from the first connect to the last login response, all workers together. */
  connectMs: number;
  connectsPerSecond: number;
  perConnection: MemorySample;
}

/** A server's runs and their medians. */
export interface ServerResult {
  label: string;
  runs: Run[];
  /** Medians over the runs, field by field. */
  perConnection: MemorySample;
  connectsPerSecond: number;
  /** The fewest connections held in any run. */
  held: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export function summarize(label: string, runs: Run[]): ServerResult {
  const per = (key: keyof MemorySample) => median(runs.map((r) => r.perConnection[key]));
  return {
    label,
    runs,
    perConnection: {
      rss: per('rss'),
      heapUsed: per('heapUsed'),
      heapTotal: per('heapTotal'),
      external: per('external'),
      arrayBuffers: per('arrayBuffers'),
      newSpace: per('newSpace'),
    },
    connectsPerSecond: median(runs.map((r) => r.connectsPerSecond)),
    held: Math.min(...runs.map((r) => r.held)),
  };
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  totalMemoryBytes: number;
  node: string;
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

export interface Results {
  bench: 'idle-memory';
  date: string;
  command: string;
  transport: Transport;
  connections: number;
  /** Runs per server, each on a new server process. */
  repeat: number;
  workers: number;
  sourcesPerWorker: number;
  concurrencyPerWorker: number;
  warmupConnections: number;
  /** V8 flags of the server processes. */
  serverFlags: string[];
  /** A reading waits until RSS has not fallen for this long. */
  settleQuietMs: number;
  machine: Machine;
  bare: ServerResult;
  parley: ServerResult;
  /** Parley / bare, per connection. */
  ratio: { rss: number; heapUsed: number; connectsPerSecond: number };
  target: { bytes: number; appliesTo: 'tcp'; pass: boolean | undefined };
}

export function perConnection(before: MemorySample, after: MemorySample, held: number): MemorySample {
  const per = (key: keyof MemorySample) => (held > 0 ? (after[key] - before[key]) / held : 0);
  return {
    rss: per('rss'),
    heapUsed: per('heapUsed'),
    heapTotal: per('heapTotal'),
    external: per('external'),
    arrayBuffers: per('arrayBuffers'),
    newSpace: per('newSpace'),
  };
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const bytes = (n: number) => `${int.format(n)} B`;
const ratio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

function rows(r: Results): string[][] {
  const { bare, parley } = r;
  const line = (s: ServerResult) => [
    s.label,
    bytes(s.perConnection.rss),
    s.runs.map((run) => int.format(run.perConnection.rss)).join(' / '),
    bytes(s.perConnection.heapUsed),
    bytes(s.perConnection.rss - s.perConnection.heapTotal),
    `${int.format(s.connectsPerSecond)}/s`,
    int.format(s.held),
  ];
  return [
    ['', 'RSS / conn', 'RSS by run', 'heap used / conn', 'RSS outside JS heap', 'connect+login', 'held'],
    line(bare),
    line(parley),
    ['Parley / bare', ratio(r.ratio.rss), '', ratio(r.ratio.heapUsed), '', ratio(r.ratio.connectsPerSecond), ''],
    [
      'Parley − bare',
      bytes(parley.perConnection.rss - bare.perConnection.rss),
      '',
      bytes(parley.perConnection.heapUsed - bare.perConnection.heapUsed),
      '',
      '',
      '',
    ],
  ];
}

function verdict(r: Results): string {
  const per = r.parley.perConnection.rss;
  if (r.target.pass === undefined) {
    return `Target: ≤ ${bytes(TARGET_BYTES)} RSS per idle logged-in plain TCP connection (not applicable to ${r.transport}).`;
  }
  return `Target: ≤ ${bytes(TARGET_BYTES)} RSS per idle logged-in TCP connection: ${r.target.pass ? 'PASS' : 'FAIL'} (${bytes(per)}).`;
}

function notes(r: Results): string[] {
  const m = r.machine;
  const out = [
    `${String(r.repeat)} runs, each on new server processes: ${int.format(r.warmupConnections)} warm-up connections per server (kept open), a reading, ${int.format(r.connections)} more connections per server (opened on one server, then the other), a reading. Figures are medians over the runs.`,
    `A reading: forced full GCs every 0.5 s until RSS has not fallen for ${String(r.settleQuietMs / 1000)} s (V8 returns memory in steps after a burst), then the median of 5. Per connection = delta / connections added. "RSS outside JS heap" = (RSS − heapTotal) delta per connection: sockets, libuv and OpenSSL state, Buffers, malloc.`,
    `Clients: ${String(r.workers)} processes × ${String(r.sourcesPerWorker)} loopback source addresses, ${String(r.concurrencyPerWorker)} connects in flight per process; connect+login = connections / time from first connect to last login response.`,
    `Machine: ${String(m.cpus)} CPUs (${m.cpuModel}), ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node}; load average (1/5/15 min) ${load(m.loadAverageStart)} at start, ${load(m.loadAverageEnd)} at end. Clients run on the same CPUs as the servers.`,
  ];
  for (const s of [r.bare, r.parley]) {
    s.runs.forEach((run, i) => {
      if (run.failed > 0 || run.dropped > 0 || run.strayFrames > 0) {
        out.push(
          `${s.label}, run ${String(i + 1)}: ${String(run.failed)} connects failed (first: ${run.firstError ?? 'n/a'}), ${String(run.dropped)} dropped while idle, ${String(run.strayFrames)} frames after login.`,
        );
      }
    });
  }
  return out;
}

/** The table for a terminal. */
export function formatTable(r: Results): string {
  const table = rows(r);
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   '),
  );
  return [
    `Idle memory per logged-in connection, ${r.transport}, ${int.format(r.connections)} connections`,
    '',
    ...lines,
    '',
    verdict(r),
    ...notes(r),
  ].join('\n');
}

/** The same as Markdown. */
export function formatMarkdown(r: Results): string {
  const table = rows(r);
  const md = (row: string[]) => `| ${row.join(' | ')} |`;
  return [
    `# Idle memory per logged-in connection (${r.transport})`,
    '',
    `${r.date}, \`${r.command}\``,
    '',
    md(table[0]!),
    md(table[0]!.map((_, c) => (c === 0 ? '---' : '---:'))),
    ...table.slice(1).map(md),
    '',
    verdict(r),
    '',
    ...notes(r).map((n) => `- ${n}`),
    '',
  ].join('\n');
}
