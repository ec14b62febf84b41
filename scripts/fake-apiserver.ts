/**
 * Standalone fake Kubernetes API server: `npm run fake-apiserver -- --port N [--rbac FILE]`.
 * Prints the path of an admin kubeconfig (and one per `--service-account NS/NAME`) on stdout;
 * logs JSON to stderr; stops on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { startFakeApiServer } from '../test/support/fake-apiserver/index.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  if (!/^[a-z0-9-]+\/[a-z0-9-.]+$/.test(value))
    throw new InvalidArgumentError('must be NAMESPACE/NAME');
  return [...previous, value];
}

const program = new Command('fake-apiserver')
  .description('Fake Kubernetes API server on 127.0.0.1 for kubectl and the neetodeploy servers')
  .option('--port <n>', 'port to listen on (0 picks a free one)', port, 6443)
  .option('--rbac <file>', 'multi-document YAML with Roles, ClusterRoles and bindings')
  .option('--data-dir <dir>', 'where kubeconfigs and pod working dirs go (default: a temp dir)')
  .option(
    '--service-account <ns/name>',
    'also write a kubeconfig for this service account',
    collect,
    [] as string[],
  )
  .option('--no-kubelet', 'leave new pods Pending instead of starting them')
  .parse();

const opts = program.opts<{
  port: number;
  rbac?: string;
  dataDir?: string;
  serviceAccount: string[];
  kubelet: boolean;
}>();
const logger = pino({ name: 'fake-apiserver' }, pino.destination(2));

let rbacYaml: string | undefined;
if (opts.rbac) {
  try {
    rbacYaml = readFileSync(opts.rbac, 'utf8');
  } catch (err) {
    process.stderr.write(
      `fake-apiserver: cannot read --rbac file: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(2);
  }
}

const fake = await startFakeApiServer({
  port: opts.port,
  ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
  ...(rbacYaml ? { rbacYaml } : {}),
  ...(opts.kubelet ? {} : { kubelet: { startDelayMs: false } }),
  logger,
});
logger.info({ url: fake.url, dataDir: fake.dataDir }, 'listening');
process.stdout.write(`${fake.kubeconfigPath()}\n`);
for (const sa of opts.serviceAccount) {
  const [ns, name] = sa.split('/') as [string, string];
  if (!fake.get('namespaces', '', ns))
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const username = `system:serviceaccount:${ns}:${name}`;
  fake.serviceAccountToken(ns, name);
  process.stdout.write(`${fake.kubeconfigPath(username, ns)}\n`);
}

const shutdown = (): void => {
  logger.info({}, 'stopping');
  void fake.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
