// What a scenario produces: per system, its figures and the series its chart draws.
import * as hdr from 'hdr-histogram-js';
import type { SystemName } from './worker/driver.js';
import { newHistogram } from './histogram.js';

export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** [percentile, ms] points of the distribution, for the chart. */
  curve: [number, number][];
}

export interface SystemResult {
  system: SystemName;
  /** Why the system was not measured, when it was not. */
  skipped?: string;
  /** The scenario's figures, keyed as its columns are. */
  figures: Record<string, number>;
  /** Named latency distributions (e.g. `fixed rate`, `saturation`). */
  latency: Record<string, Latency>;
  /** Events per second over time (the scenario's main phase). */
  timeline: [number, number][];
  /** Server memory growth per open connection, bytes. */
  memoryPerConnection?: number;
  notes: string[];
}

export interface Column {
  key: string;
  label: string;
  /** Which way is better, for the ratio's reading; omitted for columns without a ratio. */
  better?: 'higher' | 'lower';
  digits?: number;
}

export interface ScenarioResult {
  scenario: string;
  quick: boolean;
  startedAt: string;
  durationS: number;
  machine: { cpus: number; model: string; memoryGiB: number; loadavg: number[]; node: string };
  config: Record<string, unknown>;
  columns: Column[];
  systems: SystemResult[];
  notes: string[];
}

const PERCENTILES = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

/** Merges workers' encoded histograms and summarises them (µs in, ms out). */
export function summarize(encoded: string[]): Latency {
  const h = newHistogram();
  for (const e of encoded) {
    const part = hdr.decodeFromCompressedBase64(e);
    h.add(part);
    part.destroy();
  }
  const ms = (us: number) => us / 1000;
  const latency: Latency = {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    curve: h.totalCount === 0 ? [] : PERCENTILES.map((p) => [p, ms(h.getValueAtPercentile(p))]),
  };
  h.destroy();
  return latency;
}

export function emptyResult(system: SystemName, skipped?: string): SystemResult {
  return { system, ...(skipped === undefined ? {} : { skipped }), figures: {}, latency: {}, timeline: [], notes: [] };
}
