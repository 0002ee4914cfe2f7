// The load balancer configs of docs/deploy.md, as tests run them: the doc's fenced block with
// this run's ports, so the documented config is the one that runs and the two cannot drift.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NodePorts } from './served-node.js';
import { inCi } from './services.js';

export const DEPLOY_DOC = fileURLToPath(new URL('../../../../docs/deploy.md', import.meta.url));

/** The text of the document's first fenced block in `language`. */
export function docBlock(markdown: string, language: string): string {
  const match = new RegExp('^```' + language + '\\n([\\s\\S]*?)^```', 'm').exec(markdown);
  if (!match?.[1]) throw new Error(`no \`\`\`${language} block in the document`);
  return match[1];
}

/** The frontends the balancer listens on (the doc's 7100, 7101 and 7180). */
export interface FrontPorts {
  tcp: number;
  tls: number;
  http: number;
}

/**
 * The doc's config with this run's addresses. The doc's layout: frontends on 7100 (TCP), 7101
 * (TLS), 7180 (HTTP); nodes a, b, c on 10.0.0.11-13 with ports 7200/7201/7280, 7300/7301/7380,
 * 7400/7401/7480. Every one of those is replaced and listeners bind 127.0.0.1 (HAProxy's
 * `bind :P`, nginx's `listen P`); anything else that looks like a doc port or host is an error,
 * so a change to the doc's layout fails here instead of running half-rendered.
 */
export function renderDocConfig(docConfig: string, front: FrontPorts, nodes: NodePorts[]): string {
  if (nodes.length !== 3) throw new Error('the documented configs have three nodes');
  const ports = new Map<number, number>([
    [7100, front.tcp],
    [7101, front.tls],
    [7180, front.http],
  ]);
  nodes.forEach((n, i) => {
    const base = 7200 + 100 * i;
    ports.set(base, n.tcp);
    ports.set(base + 1, n.tls);
    ports.set(base + 80, n.http);
  });
  const used = new Set<number>();
  const rendered = docConfig
    .replace(/\b10\.0\.0\.1[1-3]:/g, '127.0.0.1:')
    .replace(/\bbind :/g, 'bind 127.0.0.1:')
    .replace(/\blisten (\d)/g, 'listen 127.0.0.1:$1')
    .replace(/\b7\d{3}\b/g, (text) => {
      const port = ports.get(Number(text));
      if (port === undefined) throw new Error(`the doc's config names port ${text}, which the test does not know`);
      used.add(Number(text));
      return String(port);
    });
  if (rendered.includes('10.0.0.')) throw new Error('the doc names a node host outside 10.0.0.11-13');
  const unused = [...ports.keys()].filter((p) => !used.has(p));
  if (unused.length > 0) throw new Error(`the doc's config no longer uses ports ${unused.join(', ')}`);
  return rendered;
}

/**
 * `false` when `command args` runs here; else a skip message naming how to install it (without
 * CI) or a throw (with CI=true), like requireService.
 */
export function requireProgram(command: string, args: string[], install: string): false | string {
  const probe = spawnSync(command, args, { encoding: 'utf8' });
  if (probe.status === 0) return false;
  const where = `${command} is not installed (${probe.error?.message ?? probe.stderr.trim()})`;
  const how = `Install it with: ${install}`;
  if (inCi()) throw new Error(`${where}, and CI is set: these tests must run. ${how}`);
  const message = `${where}: skipped. ${how}`;
  console.warn(`# ${message}`);
  return message;
}
