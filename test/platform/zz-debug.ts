import pino from 'pino';
import { createKubernetesPlatform } from '@neetodeploy/platform';
import { startFakeApiServer } from '../support/fake-apiserver/index.js';

const fake = await startFakeApiServer();
const app = 'dbg';
fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: app } });
const labels = { 'neetodeploy.com/app': app, 'neetodeploy.com/process': 'web' };
fake.create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'dbg-web', namespace: app, labels },
  spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'x' }] } } } });
const platform = await createKubernetesPlatform({ kubeconfigPath: fake.kubeconfigPath(), reaper: { intervalMs: 0 } }, { logger: pino({ level: 'debug' }) });
const chunk = 256 * 1024, chunks = 200;
const c = await platform.openConsole(app, { sessionId: 's1', user: 'u', command: `i=0; while [ $i -lt ${chunks} ]; do head -c ${chunk} /dev/zero; i=$((i+1)); echo $i >&2; done` });
let produced = 0;
c.stderr.on('data', (d: Buffer) => { const x = d.toString().trim().split('\n'); produced = Number(x[x.length - 1]); });
await new Promise((r) => setTimeout(r, 1200));
console.log('produced while paused', produced, 'stdout buffered', c.stdout.readableLength);
let received = 0;
c.stdout.on('data', (d: Buffer) => { received += d.length; });
const t = setInterval(() => console.log('received', received, 'produced', produced), 1000);
console.log(await c.done);
clearInterval(t);
await platform.close(); await fake.stop();
