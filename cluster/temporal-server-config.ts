import { databaseUrl, type ClusterPlan } from './plan.ts';

/**
 * The Temporal server's configuration: PostgreSQL persistence (plugin postgres12) for history and
 * visibility, every service in one process on loopback. The persistence password sits in this file,
 * so it is written 0600 next to the state file.
 */
export function temporalServerConfigYaml(plan: ClusterPlan): string {
  const url = new URL(databaseUrl(plan, plan.databases.temporal));
  const p = plan.temporalPorts;
  const store = (database: string, maxConns: number) => `      sql:
        pluginName: "postgres12"
        databaseName: ${JSON.stringify(database)}
        connectAddr: ${JSON.stringify(`${url.hostname}:${url.port || 5432}`)}
        connectProtocol: "tcp"
        user: ${JSON.stringify(plan.temporalRole.name)}
        password: ${JSON.stringify(plan.temporalRole.password)}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (grpc: number, membership: number, http?: number) => `    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${http ? `\n      httpPort: ${http}` : ''}`;
  return `# written by \`npm run cluster -- up\` (cluster/temporal-server-config.ts)
log:
  stdout: true
  level: warn

persistence:
  defaultStore: kameng-default
  visibilityStore: kameng-visibility
  numHistoryShards: 4
  datastores:
    kameng-default:
${store(plan.databases.temporal, 20)}
    kameng-visibility:
${store(plan.databases.visibility, 4)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${p.metrics}"

services:
  frontend:
${service(p.frontend, p.frontendMembership, p.frontendHttp)}
  history:
${service(p.history, p.historyMembership)}
  matching:
${service(p.matching, p.matchingMembership)}
  worker:
${service(p.worker, p.workerMembership)}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${p.frontend}"

dcRedirectionPolicy:
  policy: "noop"
`;
}
