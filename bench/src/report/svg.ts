// One SVG per scenario, written by hand (no chart library): the latency distribution per
// system (percentile on a log scale of 1/(1-p), as HdrHistogram plots do), events per second
// over time, and server memory per connection.
import type { ScenarioResult, SystemResult } from '../results.js';
import type { SystemName } from '../worker/driver.js';

const COLORS: Record<SystemName, string> = {
  parley: '#d62728',
  baseline: '#ff9896',
  bare: '#7f7f7f',
  socketio: '#1f77b4',
  mosquitto: '#2ca02c',
  ejabberd: '#9467bd',
};
const WIDTH = 900;
const PANEL = 260;
const MARGIN = { left: 70, right: 190, top: 40, bottom: 40 };

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const n = (v: number) => v.toFixed(1);

interface Series {
  system: SystemName;
  points: [number, number][];
}

/** Nice tick values for [min, max] on a linear axis. */
function ticks(max: number): number[] {
  if (max <= 0) return [0];
  const step = 10 ** Math.floor(Math.log10(max));
  const unit = max / step > 5 ? step * 2 : max / step > 2 ? step : step / 2;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001; v += unit) out.push(v);
  return out;
}

function panel(title: string, y0: number, body: string): string {
  return `<g transform="translate(0,${n(y0)})"><text x="${String(MARGIN.left)}" y="-12" font-size="14" font-weight="bold">${esc(title)}</text>${body}</g>`;
}

function legend(series: { system: SystemName; label: string }[]): string {
  return series
    .map(
      (s, i) =>
        `<rect x="${String(WIDTH - MARGIN.right + 15)}" y="${String(i * 18)}" width="12" height="12" fill="${COLORS[s.system]}"/>` +
        `<text x="${String(WIDTH - MARGIN.right + 32)}" y="${String(i * 18 + 10)}" font-size="11">${esc(s.label)}</text>`,
    )
    .join('');
}

function linePanel(
  series: Series[],
  options: { xLabel: string; yLabel: string; xLog?: boolean; yLog?: boolean; xTicks?: [number, string][] },
): string {
  const w = WIDTH - MARGIN.left - MARGIN.right;
  const h = PANEL - MARGIN.bottom;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<text x="${String(MARGIN.left)}" y="40" font-size="12">no data</text>`;
  const fx = options.xLog ? (x: number) => Math.log10(x) : (x: number) => x;
  const fy = options.yLog ? (y: number) => Math.log10(Math.max(y, 0.01)) : (y: number) => y;
  const xs = all.map(([x]) => fx(x));
  const ys = all.map(([, y]) => fy(y));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs, xMin + 1e-9);
  const yMin = options.yLog ? Math.floor(Math.min(...ys)) : 0;
  const yMax = options.yLog ? Math.ceil(Math.max(...ys, yMin + 1)) : Math.max(...ys, 1e-9) * 1.05;
  const px = (x: number) => MARGIN.left + ((fx(x) - xMin) / (xMax - xMin || 1)) * w;
  const py = (y: number) => h - ((fy(y) - yMin) / (yMax - yMin || 1)) * h;
  let out = `<rect x="${String(MARGIN.left)}" y="0" width="${String(w)}" height="${String(h)}" fill="none" stroke="#ccc"/>`;
  const yTicks = options.yLog ? Array.from({ length: yMax - yMin + 1 }, (_, i) => 10 ** (yMin + i)) : ticks(yMax);
  for (const t of yTicks) {
    out += `<line x1="${String(MARGIN.left)}" x2="${String(MARGIN.left + w)}" y1="${n(py(t))}" y2="${n(py(t))}" stroke="#eee"/>`;
    out += `<text x="${String(MARGIN.left - 6)}" y="${n(py(t) + 4)}" font-size="10" text-anchor="end">${esc(formatTick(t))}</text>`;
  }
  const xTicks = options.xTicks ?? ticks(xMax).map((t) => [t, formatTick(t)] as [number, string]);
  for (const [t, label] of xTicks) {
    if (fx(t) < xMin - 1e-9 || fx(t) > xMax + 1e-9) continue;
    out += `<text x="${n(px(t))}" y="${String(h + 14)}" font-size="10" text-anchor="middle">${esc(label)}</text>`;
  }
  out += `<text x="${String(MARGIN.left + w / 2)}" y="${String(h + 30)}" font-size="11" text-anchor="middle">${esc(options.xLabel)}</text>`;
  out += `<text x="14" y="${String(h / 2)}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${String(h / 2)})">${esc(options.yLabel)}</text>`;
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${n(px(x))},${n(py(y))}`).join(' ');
    out += `<path d="${d}" fill="none" stroke="${COLORS[s.system]}" stroke-width="2"/>`;
  }
  return out;
}

function formatTick(v: number): string {
  if (v >= 1_000_000) return `${String(v / 1_000_000)}M`;
  if (v >= 1000) return `${String(v / 1000)}k`;
  return String(Number(v.toPrecision(3)));
}

function barPanel(results: SystemResult[]): string {
  const items = results.filter((r) => r.memoryPerConnection !== undefined);
  if (items.length === 0) return `<text x="${String(MARGIN.left)}" y="40" font-size="12">no data</text>`;
  const w = WIDTH - MARGIN.left - MARGIN.right;
  const h = PANEL - MARGIN.bottom;
  const max = Math.max(...items.map((r) => r.memoryPerConnection! / 1024), 1e-9) * 1.1;
  const bw = Math.min(80, w / items.length - 20);
  let out = `<rect x="${String(MARGIN.left)}" y="0" width="${String(w)}" height="${String(h)}" fill="none" stroke="#ccc"/>`;
  for (const t of ticks(max)) {
    const y = h - (t / max) * h;
    out += `<line x1="${String(MARGIN.left)}" x2="${String(MARGIN.left + w)}" y1="${n(y)}" y2="${n(y)}" stroke="#eee"/>`;
    out += `<text x="${String(MARGIN.left - 6)}" y="${n(y + 4)}" font-size="10" text-anchor="end">${esc(formatTick(t))}</text>`;
  }
  items.forEach((r, i) => {
    const kib = r.memoryPerConnection! / 1024;
    const x = MARGIN.left + 20 + i * (bw + 20);
    const bh = (kib / max) * h;
    out += `<rect x="${n(x)}" y="${n(h - bh)}" width="${n(bw)}" height="${n(bh)}" fill="${COLORS[r.system]}"/>`;
    out += `<text x="${n(x + bw / 2)}" y="${n(h - bh - 4)}" font-size="10" text-anchor="middle">${kib.toFixed(1)}</text>`;
    out += `<text x="${n(x + bw / 2)}" y="${String(h + 14)}" font-size="10" text-anchor="middle">${esc(r.system)}</text>`;
  });
  out += `<text x="14" y="${String(h / 2)}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${String(h / 2)})">KiB per connection</text>`;
  return out;
}

/** The scenario's chart. `latencyKey` picks which named distribution to draw (first one otherwise). */
export function scenarioSvg(result: ScenarioResult, labels: Record<SystemName, string>): string {
  const ran = result.systems.filter((r) => r.skipped === undefined);
  const latency: Series[] = ran.flatMap((r) => {
    const [name] = Object.keys(r.latency);
    const l = name === undefined ? undefined : r.latency[name];
    if (!l) return [];
    // x = 1/(1-p): 50% -> 2, 99% -> 100, 99.9% -> 1000; p=100 is drawn at 99.999%.
    return [
      {
        system: r.system,
        points: l.curve.map(([p, ms]) => [1 / (1 - Math.min(p, 99.999) / 100), ms] as [number, number]),
      },
    ];
  });
  const latencyName = ran.map((r) => Object.keys(r.latency)[0]).find((k) => k !== undefined) ?? '';
  const throughput: Series[] = ran.map((r) => ({ system: r.system, points: r.timeline }));
  const height = 3 * (PANEL + MARGIN.top) + 30;
  const body = [
    `<text x="${String(MARGIN.left)}" y="22" font-size="16" font-weight="bold">${esc(`${result.scenario}${result.quick ? ' (--quick)' : ''} — ${result.startedAt.slice(0, 16)}Z`)}</text>`,
    panel(
      `Latency distribution (${latencyName}), end to end`,
      MARGIN.top + 20,
      linePanel(latency, {
        xLabel: 'percentile',
        yLabel: 'ms (log)',
        xLog: true,
        yLog: true,
        xTicks: [
          [2, '50%'],
          [10, '90%'],
          [100, '99%'],
          [1000, '99.9%'],
          [10000, '99.99%'],
          [100000, 'max'],
        ],
      }) +
        `<g transform="translate(0,0)">${legend(ran.map((r) => ({ system: r.system, label: labels[r.system].replace(/ \(.*$/, '') })))}</g>`,
    ),
    panel(
      'Throughput over time',
      2 * MARGIN.top + PANEL + 20,
      linePanel(throughput, { xLabel: 'seconds', yLabel: 'per second' }),
    ),
    panel('Server memory per connection', 3 * MARGIN.top + 2 * PANEL + 20, barPanel(ran)),
  ].join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${String(WIDTH)}" height="${String(height)}" viewBox="0 0 ${String(WIDTH)} ${String(height)}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${body}</svg>\n`;
}
