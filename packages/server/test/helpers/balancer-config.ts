// The load balancer configs of docs/deploy.md, as tests run them: the doc's fenced block with
// this run's ports, so the documented config is the one that runs and the two cannot drift; and
// the balancer process (HAProxy, nginx) that runs it in the foreground.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventually, freePort } from './cluster.js';
import type { NodePorts } from './served-node.js';
import { inCi, tcpReachable } from './services.js';

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

/** Three free ports for a balancer's frontends. */
export async function freeFrontPorts(): Promise<FrontPorts> {
  return { tcp: await freePort(), tls: await freePort(), http: await freePort() };
}

/** The deploy doc's ```language block, rendered with these ports (see renderDocConfig). */
export function deployDocConfig(language: string, front: FrontPorts, nodes: NodePorts[]): string {
  return renderDocConfig(docBlock(readFileSync(DEPLOY_DOC, 'utf8'), language), front, nodes);
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

/** How to check a written config and run the balancer on it. */
export interface BalancerLaunch {
  /** The balancer's name in messages. */
  name: string;
  command: string;
  /** Arguments that check the config and exit (0 when it is accepted). */
  check: string[];
  /** Arguments that run the balancer in the foreground. */
  run: string[];
  front: FrontPorts;
  /** The test's own directory with the config; removed by `stop` (or when the config is refused). */
  dir: string;
}

/** A load balancer in the foreground, with what it printed, on frontends and a directory of the test's own. */
export class BalancerProcess {
  readonly #output: string[] = [];

  protected constructor(
    readonly front: FrontPorts,
    private readonly child: ChildProcess,
    protected readonly dir: string,
  ) {
    const keep = (chunk: Buffer) => this.#output.push(chunk.toString());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /**
   * Checks the config, starts the balancer, wraps its process with `wrap` and resolves once
   * every frontend accepts connections. A refused config throws with the balancer's complaint.
   */
  protected static async launch<P extends BalancerProcess>(
    launch: BalancerLaunch,
    wrap: (child: ChildProcess) => P,
  ): Promise<P> {
    const { name, command, front, dir } = launch;
    const check = spawnSync(command, launch.check, { encoding: 'utf8' });
    if (check.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${name} refuses the doc's config:\n${check.stdout}${check.stderr}`);
    }
    const child = spawn(command, launch.run, { stdio: ['ignore', 'pipe', 'pipe'] });
    const proxy = wrap(child);
    try {
      await eventually(
        `${name} to listen on its frontends`,
        async () => {
          if (child.exitCode !== null)
            throw new Error(`${name} exited with ${String(child.exitCode)}: ${proxy.output}`);
          const ports = [front.tcp, front.tls, front.http];
          const up = await Promise.all(ports.map((p) => tcpReachable('127.0.0.1', p, 200)));
          return up.every(Boolean);
        },
        10_000,
      );
    } catch (err) {
      await proxy.stop();
      throw err;
    }
    return proxy;
  }

  /** What the balancer printed (warnings, alerts). */
  get output(): string {
    return this.#output.join('');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
