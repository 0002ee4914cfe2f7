import { loadConfig, type Config } from '@parley/server';

/** Options common to commands that read the server configuration. */
export interface ConfigFlags {
  host?: string;
  tcpPort?: string;
  tlsPort?: string;
  httpPort?: string;
  data?: string;
  store?: string;
  bus?: string;
  nodeId?: string;
  config?: string;
  mode?: string;
  logLevel?: string;
  tls?: boolean;
  tcp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  webDir?: string;
}

/** Flags > PARLEY_* env > config file > defaults. Commander's negated flags default to true: only `false` counts. */
export function configFromFlags(flags: ConfigFlags): Config {
  return loadConfig({
    file: flags.config,
    flags: {
      host: flags.host,
      tcpPort: flags.tcpPort,
      tlsPort: flags.tlsPort,
      httpPort: flags.httpPort,
      dataDir: flags.data,
      store: flags.store,
      bus: flags.bus,
      nodeId: flags.nodeId,
      mode: flags.mode,
      logLevel: flags.logLevel,
      tlsCert: flags.tlsCert,
      tlsKey: flags.tlsKey,
      webDir: flags.webDir,
      tls: flags.tls === false ? false : undefined,
      tcp: flags.tcp === false ? false : undefined,
    },
  });
}
