// The Markdown table of one scenario: one row per system, then Parley's ratio to each anchor.
import type { Column, ScenarioResult, SystemResult } from '../results.js';
import { SYSTEM_LABELS } from '../systems.js';

function format(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ratio(parley: number | undefined, anchor: number | undefined): string {
  if (parley === undefined || anchor === undefined || !Number.isFinite(parley) || !Number.isFinite(anchor)) return '–';
  if (anchor === 0) return parley === 0 ? '1.00' : '∞';
  return `${(parley / anchor).toFixed(2)}×`;
}

function header(columns: Column[]): string {
  const arrow = (c: Column) => (c.better === 'higher' ? ' ↑' : c.better === 'lower' ? ' ↓' : '');
  return `| system | ${columns.map((c) => c.label + arrow(c)).join(' | ')} | notes |\n|---|${columns.map(() => '---:').join('|')}|---|`;
}

function row(r: SystemResult, columns: Column[]): string {
  if (r.skipped !== undefined) {
    return `| ${SYSTEM_LABELS[r.system]} | ${columns.map(() => '–').join(' | ')} | not run: ${r.skipped} |`;
  }
  const cells = columns.map((c) => format(r.figures[c.key], c.digits));
  return `| ${SYSTEM_LABELS[r.system]} | ${cells.join(' | ')} | ${r.notes.join('; ').replaceAll('|', '/')} |`;
}

/** The system rows and the ratio rows (Parley ÷ anchor; the arrow says which way is better). */
export function scenarioTable(result: ScenarioResult): string {
  const lines = [header(result.columns), ...result.systems.map((r) => row(r, result.columns))];
  const parley = result.systems.find((r) => r.system === 'parley' && r.skipped === undefined);
  const anchors = result.systems.filter(
    (r) => r.system !== 'parley' && r.skipped === undefined && Object.keys(r.figures).length > 0,
  );
  if (parley && anchors.length > 0) {
    lines.push('', `Parley ÷ anchor, same run (↑: higher is better, ↓: lower is better):`, '');
    lines.push(`| Parley ÷ | ${result.columns.map((c) => c.label).join(' | ')} |`);
    lines.push(`|---|${result.columns.map(() => '---:').join('|')}|`);
    for (const a of anchors) {
      lines.push(
        `| ${SYSTEM_LABELS[a.system]} | ${result.columns.map((c) => ratio(parley.figures[c.key], a.figures[c.key])).join(' | ')} |`,
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
    '',
    scenarioTable(result),
    ...(result.notes.length > 0 ? ['', ...result.notes.map((n) => `- ${n}`)] : []),
    '',
    `Chart: [${result.scenario}.svg](${result.scenario}.svg)`,
    '',
  ].join('\n');
}
