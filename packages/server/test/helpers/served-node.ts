// A `parley serve` child process on 127.0.0.1 with all three of its ports (TCP, TLS, HTTP), for
// tests and benchmarks that put something in front of the nodes (a load balancer) or need their
// HTTP side: a NodeProcess (parley-processes.ts) on the loopback address.
import { type ClusterRun, NodeProcess, type NodePorts, type NodeProcessOptions } from './parley-processes.js';

export type { NodePorts };

export type ServedNodeOptions = Omit<NodeProcessOptions, 'host'>;

export type ServedNode = NodeProcess;

export const ServedNode = {
  /** Starts a node listening on 127.0.0.1 only (where the balancer's backends point). */
  start(run: ClusterRun, nodeId: string, options: ServedNodeOptions = {}): Promise<ServedNode> {
    return NodeProcess.start(run, nodeId, { ...options, host: '127.0.0.1' });
  },
};
