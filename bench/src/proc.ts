// Reads a process's resident memory and CPU time from /proc, the same way for every server
// in a run (our own children, the machine's Mosquitto, our ejabberd's Erlang VM).
import { readFileSync, readdirSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU time in ticks of 1/100 s on every common build. */
const TICKS_PER_SECOND = 100;

export interface ProcReading {
  rssBytes: number;
  /** User plus system CPU time so far, in seconds. */
  cpuSeconds: number;
}

/** One reading, or undefined when the process is gone or /proc is not readable. */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { rssBytes: Number(rss?.[1] ?? 0) * 1024, cpuSeconds: (utime + stime) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Pids whose command line contains `needle` (e.g. an Erlang node name). */
export function findPids(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

export interface ProcPeak {
  /** Highest RSS seen, summed over the watched processes. */
  peakRssBytes: number;
  /** Highest CPU use over one sampling interval, in percent of one core. */
  peakCpuPercent: number;
  /** Average CPU use over the whole watch, in percent of one core. */
  meanCpuPercent: number;
  /** [ms since start, RSS bytes, CPU percent] per sample. */
  samples: [number, number, number][];
}

/** Samples a set of processes every `everyMs` until stopped: peaks and a trajectory. */
export class ProcWatch {
  readonly #pids: number[];
  readonly #timer: NodeJS.Timeout;
  readonly #started = Date.now();
  readonly #startCpu: number;
  #lastCpu: number;
  #lastAt = Date.now();
  readonly #peak: ProcPeak = { peakRssBytes: 0, peakCpuPercent: 0, meanCpuPercent: 0, samples: [] };

  constructor(pids: number[], everyMs = 500) {
    this.#pids = pids;
    this.#startCpu = this.#lastCpu = this.#cpu();
    this.#timer = setInterval(() => {
      this.#sample();
    }, everyMs);
  }

  #cpu(): number {
    return this.#pids.reduce((s, pid) => s + (readProc(pid)?.cpuSeconds ?? 0), 0);
  }

  #sample(): void {
    const now = Date.now();
    const rss = this.#pids.reduce((s, pid) => s + (readProc(pid)?.rssBytes ?? 0), 0);
    const cpu = this.#cpu();
    const percent = now > this.#lastAt ? ((cpu - this.#lastCpu) / ((now - this.#lastAt) / 1000)) * 100 : 0;
    this.#lastCpu = cpu;
    this.#lastAt = now;
    this.#peak.peakRssBytes = Math.max(this.#peak.peakRssBytes, rss);
    this.#peak.peakCpuPercent = Math.max(this.#peak.peakCpuPercent, percent);
    this.#peak.samples.push([now - this.#started, rss, percent]);
  }

  stop(): ProcPeak {
    clearInterval(this.#timer);
    this.#sample();
    const seconds = (Date.now() - this.#started) / 1000;
    this.#peak.meanCpuPercent = seconds > 0 ? ((this.#cpu() - this.#startCpu) / seconds) * 100 : 0;
    return this.#peak;
  }
}
