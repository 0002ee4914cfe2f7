// Summarises a V8 .cpuprofile (from `--cpu-prof`): the functions with the most self time and
// the most inclusive time, with their file and line, so a profile of the server under the
// one-to-one load can be read without DevTools.
//
//   node --import tsx bench/src/cpu-profile.ts FILE.cpuprofile [--top 25] [--filter packages/]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

/** Self and inclusive time per function (recursion counted once per sample). */
export function summarizeProfile(profile: Profile): { totalMs: number; functions: FunctionTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(packages|node_modules)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'}\t${url}:${String(n.callFrame.lineNumber + 1)}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(id);
    if (!leaf) return;
    self.set(key(leaf), (self.get(key(leaf)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + ms);
    }
  });
  const functions = [...total].map(([k, totalMs]) => {
    const [name = '', where = ''] = k.split('\t');
    return { name, where, selfMs: self.get(k) ?? 0, totalMs };
  });
  return { totalMs: (profile.endTime - profile.startTime) / 1000, functions };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, filter: { type: 'string', default: '' } },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: cpu-profile.ts FILE.cpuprofile [--top N] [--filter TEXT]');
  const { totalMs, functions } = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const top = Number(values.top);
  const show = (title: string, list: FunctionTime[]) => {
    process.stdout.write(`\n${title}\n`);
    for (const f of list.slice(0, top)) {
      process.stdout.write(
        `${f.selfMs.toFixed(0).padStart(7)} ms self ${f.totalMs.toFixed(0).padStart(7)} ms total  ${f.name}  ${f.where}\n`,
      );
    }
  };
  process.stdout.write(`profile of ${(totalMs / 1000).toFixed(1)} s\n`);
  const matching = functions.filter((f) => f.where.includes(values.filter));
  show(
    'by self time',
    [...matching].sort((a, b) => b.selfMs - a.selfMs),
  );
  show(
    'by inclusive time',
    [...matching].sort((a, b) => b.totalMs - a.totalMs),
  );
}
