import { loadOrCreateSecret, type Config } from '@parley/server';

/** The app secret the server signs with: configured, or the one in the data directory. */
export function loadOrCreateAppSecret(config: Config): string {
  return loadOrCreateSecret(config.dataDir, 'app-secret', config.appSecret).value;
}
