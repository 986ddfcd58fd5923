/** Transports the MPC engine runs on (DESIGN §6, ts/net): in-process, worker threads, TCP (+TLS). */
export * from './types.js';
export { Meter, formatMeterTable, mergeSnapshots, type MeterSnapshot, type OpStats, type TrafficStats, type WireStats } from './meter.js';
export { createLocalNetwork } from './local.js';
export { createWorkerMesh, createWorkerLink, transferListOf, type WorkerEndpoint } from './worker.js';
export { listenTcp, connectTcp, createTcpNetwork, TcpListener, type TcpAddress, type TcpConnectOptions, type TcpListenOptions, type TcpNetworkOptions, type TcpTlsOptions } from './tcp.js';
