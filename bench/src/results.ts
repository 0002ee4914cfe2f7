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
  /** The scenario's figures, keyed as its columns are (the median over the rounds). */
  figures: Record<string, number>;
  /** With more than one round (--repeat): each figure's [min, max] over the rounds. */
  spread?: Record<string, [number, number]>;
  /** With more than one round: every round's figures, in order. */
  rounds?: Record<string, number>[];
  /** Named latency distributions (e.g. `fixed rate`, `saturation`); of the median round. */
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
  /** Parley's figures divided by each anchor's, per column. */
  ratios: AnchorRatios[];
  notes: string[];
}

/** Parley ÷ one anchor: the ratio of the medians and, with rounds, the range of per-round ratios. */
export interface AnchorRatios {
  system: SystemName;
  ratios: Record<string, { ratio: number; min?: number; max?: number }>;
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

/** A round's result starts as a copy of what the set-up recorded (memory per connection, notes). */
export function copyResult(r: SystemResult): SystemResult {
  return {
    ...r,
    figures: { ...r.figures },
    latency: { ...r.latency },
    timeline: [...r.timeline],
    notes: [...r.notes],
  };
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * One row from a system's rounds: each figure's median, its [min, max], every round's
 * figures; the latency curves and time series of the round whose main figure (the first
 * column with a direction) is nearest the median; the notes of every round, once each.
 */
export function mergeRounds(rounds: SystemResult[], columns: Column[]): SystemResult {
  if (rounds.length === 1) return rounds[0]!;
  const keys = [...new Set(rounds.flatMap((r) => Object.keys(r.figures)))];
  const figures: Record<string, number> = {};
  const spread: Record<string, [number, number]> = {};
  for (const key of keys) {
    const values = rounds.map((r) => r.figures[key] ?? NaN);
    figures[key] = median(values);
    const known = values.filter((v) => !Number.isNaN(v));
    if (known.length > 0) spread[key] = [Math.min(...known), Math.max(...known)];
  }
  const main = columns.find((c) => c.better !== undefined)?.key;
  const distance = (r: SystemResult) =>
    main === undefined ? 0 : Math.abs((r.figures[main] ?? NaN) - (figures[main] ?? NaN)) || 0;
  const representative = rounds.reduce(
    (best, r) => (distance(r) < distance(best) ? r : best),
    rounds[rounds.length - 1]!,
  );
  const memory = rounds.map((r) => r.memoryPerConnection).filter((m): m is number => m !== undefined);
  return {
    ...representative,
    figures,
    spread,
    rounds: rounds.map((r) => r.figures),
    ...(memory.length > 0 ? { memoryPerConnection: median(memory) } : {}),
    notes: [...new Set(rounds.flatMap((r) => r.notes))],
  };
}

/** Parley's figures divided by each measured anchor's; per-round ratios pair round i with round i. */
export function anchorRatios(systems: SystemResult[], columns: Column[]): AnchorRatios[] {
  const parley = systems.find((r) => r.system === 'parley' && r.skipped === undefined);
  if (!parley) return [];
  return systems
    .filter((r) => r.system !== 'parley' && r.skipped === undefined && Object.keys(r.figures).length > 0)
    .map((anchor) => {
      const ratios: AnchorRatios['ratios'] = {};
      for (const { key } of columns) {
        const entry: AnchorRatios['ratios'][string] = { ratio: divide(parley.figures[key], anchor.figures[key]) };
        if (parley.rounds && anchor.rounds) {
          const per = parley.rounds
            .slice(0, anchor.rounds.length)
            .map((p, i) => divide(p[key], anchor.rounds![i]![key]))
            .filter((x) => !Number.isNaN(x));
          if (per.length > 0) Object.assign(entry, { min: Math.min(...per), max: Math.max(...per) });
        }
        ratios[key] = entry;
      }
      return { system: anchor.system, ratios };
    });
}

/** a ÷ b; 0 ÷ 0 is 1 (the same), x ÷ 0 is Infinity, an unknown side is NaN. */
function divide(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return NaN;
  if (b === 0) return a === 0 ? 1 : Infinity;
  return a / b;
}
