export {
  CLI_ENTRY,
  startCommand,
  startHubProcess,
  startStoreProcess,
  writeSecretFile,
  type ChildCommand,
  type StartOptions,
} from './processes.js';
export { TcpProxy } from './tcp-proxy.js';
export { metricSamples, metricSum, type MetricSample } from './prometheus.js';
export { ProcessCluster, isRunning, killProcess, type ClusterSettings, type StoreStart } from './sim/cluster.js';
export { missingPostgres } from './demo-postgres.js';
