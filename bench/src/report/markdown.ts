// The Markdown table of one scenario: one row per system, then Parley's ratio to each anchor.
import type { AnchorRatios, Column, ScenarioResult, SystemResult } from '../results.js';
import { SYSTEM_LABELS } from '../systems.js';

function format(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A median with its range over the rounds: `5,202 (4,980–5,310)`. */
function withRange(value: number | undefined, range: [number, number] | undefined, digits = 1): string {
  const text = format(value, digits);
  if (!range || text === '–' || range[0] === range[1]) return text;
  return `${text} (${format(range[0], digits)}–${format(range[1], digits)})`;
}

function formatRatio(value: number): string {
  if (Number.isNaN(value)) return '–';
  if (value === Infinity) return '∞';
  return `${value.toFixed(2)}×`;
}

function ratioCell(entry: AnchorRatios['ratios'][string] | undefined): string {
  if (!entry) return '–';
  const text = formatRatio(entry.ratio);
  if (entry.min === undefined || entry.max === undefined || text === '–' || entry.min === entry.max) return text;
  return `${text} (${formatRatio(entry.min).replace('×', '')}–${formatRatio(entry.max)})`;
}

function header(columns: Column[]): string {
  const arrow = (c: Column) => (c.better === 'higher' ? ' ↑' : c.better === 'lower' ? ' ↓' : '');
  return `| system | ${columns.map((c) => c.label + arrow(c)).join(' | ')} | notes |\n|---|${columns.map(() => '---:').join('|')}|---|`;
}

function row(r: SystemResult, columns: Column[]): string {
  if (r.skipped !== undefined) {
    return `| ${SYSTEM_LABELS[r.system]} | ${columns.map(() => '–').join(' | ')} | not run: ${r.skipped} |`;
  }
  const cells = columns.map((c) => withRange(r.figures[c.key], r.spread?.[c.key], c.digits));
  return `| ${SYSTEM_LABELS[r.system]} | ${cells.join(' | ')} | ${r.notes.join('; ').replaceAll('|', '/')} |`;
}

/**
 * The system rows and the ratio rows (Parley ÷ anchor; the arrow says which way is better).
 * With several rounds a cell is the median and, in brackets, the range over the rounds; a
 * ratio is the ratio of the medians and, in brackets, the range of the per-round ratios.
 */
export function scenarioTable(result: ScenarioResult): string {
  const lines = [header(result.columns), ...result.systems.map((r) => row(r, result.columns))];
  if (result.ratios.length > 0) {
    lines.push('', `Parley ÷ anchor, same run (↑: higher is better, ↓: lower is better):`, '');
    lines.push(`| Parley ÷ | ${result.columns.map((c) => c.label).join(' | ')} |`);
    lines.push(`|---|${result.columns.map(() => '---:').join('|')}|`);
    for (const a of result.ratios) {
      lines.push(
        `| ${SYSTEM_LABELS[a.system]} | ${result.columns.map((c) => ratioCell(a.ratios[c.key])).join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}

export function scenarioMarkdown(result: ScenarioResult): string {
  const m = result.machine;
  const config = Object.entries(result.config)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  return [
    `## ${result.scenario}${result.quick ? ' (--quick)' : ''}`,
    '',
    `${result.startedAt}, ${String(result.durationS)} s; ${String(m.cpus)} × ${m.model}, ${m.memoryGiB.toFixed(0)} GiB, ` +
      `load average at start ${m.loadavg.map((l) => l.toFixed(2)).join(' ')}; Node ${m.node}.`,
    '',
    `Configuration: ${config}.`,
    ...(Number(result.config.repeat) > 1
      ? [
          '',
          `Each figure is the median of ${String(result.config.repeat)} rounds (systems interleaved), with the range over the rounds in brackets; each ratio is the ratio of the medians, with the range of the per-round ratios.`,
        ]
      : []),
    '',
    scenarioTable(result),
    ...(result.notes.length > 0 ? ['', ...result.notes.map((n) => `- ${n}`)] : []),
    '',
    `Chart: [${result.scenario}.svg](${result.scenario}.svg)`,
    '',
  ].join('\n');
}
