// Node-only parts of the SDK: TCP, TLS and `ws`-based WebSocket transports.
export { type TcpTransportOptions, tcpTransport } from './transport/node-tcp.js';
export { type TlsTransportOptions, tlsTransport } from './transport/node-tls.js';
export { type NodeWebSocketTransportOptions, nodeWebSocketTransport } from './transport/node-websocket.js';
export type { StreamTransportOptions } from './transport/node-stream.js';
export { FileKeyValueStore, type FileKeyValueStoreOptions } from './storage/file-key-value.js';
export { type LookupAll, SystemResolver, type SystemResolverOptions } from './dns/system-resolver.js';
export { type TlsConnectByIpOptions, tlsConnectByIp } from './dns/node-tls.js';
export type { ResolvedDialOptions } from './transport/node-resolved.js';
export { type NodeEndpointOptions, nodeEndpointTransport } from './transport/node-endpoint.js';
// DNS resolution for these transports (also '@parley/client/dns').
export * from './dns/index.js';
