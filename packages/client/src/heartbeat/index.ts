export {
  DEFAULT_HEARTBEAT_CONFIG,
  type HeartbeatTransition,
  SmartHeartbeat,
  type SmartHeartbeatConfig,
  type SmartHeartbeatOptions,
} from './smart-heartbeat.js';
export type { NetworkHeartbeatState } from './network-state.js';
