/**
 * The server images, checked without a Docker engine: each Dockerfile parses into known
 * instructions and stages, builds with npm ci + tsc -b, installs production dependencies of its
 * workspace only, runs as a non-root numeric user on a slim Node image, and names an entry point
 * that the TypeScript build produces. `.dockerignore` keeps secrets, local state, dependencies
 * and VCS data out of the build context while keeping every file the build needs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../support/paths.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

const KEYWORDS = new Set([
  'FROM',
  'RUN',
  'COPY',
  'ADD',
  'ENV',
  'ARG',
  'WORKDIR',
  'USER',
  'EXPOSE',
  'ENTRYPOINT',
  'CMD',
  'LABEL',
  'HEALTHCHECK',
  'STOPSIGNAL',
  'SHELL',
  'VOLUME',
  'ONBUILD',
]);

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== '' && line.trimStart().startsWith('#')) return;
    if (pending === '') start = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^([A-Za-z]+)\s+(.*)$/s.exec(full);
    assert.ok(m, `line ${start}: not an instruction: ${full}`);
    const keyword = m[1]!.toUpperCase();
    assert.ok(KEYWORDS.has(keyword), `line ${start}: unknown instruction ${m[1]}`);
    assert.equal(m[1], keyword, `line ${start}: instructions are upper case`);
    instructions.push({ keyword, args: m[2]!.trim(), line: start });
  });
  assert.equal(pending, '', 'no dangling line continuation at the end');

  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `line ${ins.line}: FROM image [AS name]`);
      stages.push({ from: m[1]!, name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(ins.keyword, 'ARG', `line ${ins.line}: only ARG may precede the first FROM`);
      const [name, value] = ins.args.split('=');
      args.set(name!, value ?? '');
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { args, stages };
}

function execForm(ins: Instruction): string[] {
  const value: unknown = JSON.parse(ins.args);
  assert.ok(
    Array.isArray(value) && value.every((v) => typeof v === 'string'),
    `${ins.keyword} uses the exec (JSON array) form, so signals reach node`,
  );
  return value;
}

/** `.dockerignore` semantics: globs with `**`, `!` exceptions, last match wins, parents count. */
function dockerignore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
          i += pattern[i + 2] === '/' ? 2 : 1;
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (file) => {
    const parts = file.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    }
    return excluded;
  };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, unknown>;
}

/** The workspace and the workspaces it depends on, transitively. */
function workspaceClosure(pkg: string): string[] {
  const byName = new Map<string, string>();
  for (const ws of readJson('package.json').workspaces as string[]) {
    byName.set(readJson(`${ws}/package.json`).name as string, ws);
  }
  const seen = new Set<string>();
  const visit = (ws: string): void => {
    if (seen.has(ws)) return;
    seen.add(ws);
    const deps = (readJson(`${ws}/package.json`).dependencies ?? {}) as Record<string, string>;
    for (const dep of Object.keys(deps)) {
      const target = byName.get(dep);
      if (target) visit(target);
    }
  };
  visit(pkg);
  return [...seen];
}

/** What tsc -b emits for `<pkg>/src/main.ts`, per the workspace's own tsconfig. */
function emittedMain(pkg: string): string {
  const configFile = path.join(ROOT, pkg, 'tsconfig.json');
  const read = ts.readConfigFile(configFile, (f) => ts.sys.readFile(f));
  assert.equal(read.error, undefined);
  const parsed = ts.parseJsonConfigFileContent(
    read.config,
    ts.sys,
    path.dirname(configFile),
    undefined,
    configFile,
  );
  const outputs = ts.getOutputFileNames(parsed, path.join(ROOT, pkg, 'src', 'main.ts'), false);
  const js = outputs.find((f) => f.endsWith('.js'));
  assert.ok(js, `tsc emits JavaScript for ${pkg}/src/main.ts`);
  return path.relative(ROOT, js);
}

const IMAGES = [
  { pkg: 'bastion', ports: ['2222', '9102'] },
  { pkg: 'keys-service', ports: ['8080'] },
] as const;

/** The UID the chart runs every container as. */
const CHART_UID = /runAsUser: (\d+)/.exec(
  fs.readFileSync(path.join(ROOT, 'charts/neetodeploy-access/templates/_helpers.tpl'), 'utf8'),
)![1]!;

describe('container images (Dockerfiles and .dockerignore)', () => {
  for (const { pkg, ports } of IMAGES) {
    describe(`${pkg}/Dockerfile`, () => {
      const { args, stages } = parseDockerfile(
        fs.readFileSync(path.join(ROOT, pkg, 'Dockerfile'), 'utf8'),
      );
      const final = stages[stages.length - 1]!;
      const all = (s: Stage, kw: string) => s.instructions.filter((i) => i.keyword === kw);
      const resolve = (image: string) =>
        image.replace(
          /\$\{(\w+)\}|\$(\w+)/g,
          (_, a?: string, b?: string) => args.get((a ?? b)!) ?? '',
        );

      it('is multi-stage with named stages that COPY --from only earlier ones', () => {
        assert.ok(stages.length >= 3, `${stages.length} stages`);
        const names: string[] = [];
        for (const stage of stages) {
          assert.ok(stage.name, `stage FROM ${stage.from} is named`);
          for (const copy of all(stage, 'COPY')) {
            const from = /--from=(\S+)/.exec(copy.args)?.[1];
            if (from)
              assert.ok(names.includes(from), `line ${copy.line}: --from=${from} is earlier`);
          }
          assert.ok(
            names.includes(stage.from) || /^(\$\{?\w+\}?|node:)/.test(stage.from),
            `FROM ${stage.from}`,
          );
          names.push(stage.name);
        }
      });

      it('builds with npm ci and tsc -b, and installs production dependencies of its workspace', () => {
        const runs = stages.flatMap((s) => all(s, 'RUN').map((r) => r.args));
        assert.ok(
          runs.some((r) => /^npm ci(\s|$)/.test(r)),
          'npm ci',
        );
        assert.ok(
          runs.some((r) => /tsc -b tsconfig\.build\.json/.test(r)),
          'tsc -b',
        );
        const prod = runs.find((r) => /npm ci\b.*--omit=dev/.test(r));
        assert.ok(prod, 'npm ci --omit=dev');
        assert.match(prod, new RegExp(`--workspace=${pkg}\\b`));
        // The root postinstall needs dev tools, so the production install skips it and then
        // applies patches/ itself: the patched ssh2 must reach the image.
        assert.match(prod, /--ignore-scripts/);
        assert.match(prod, /patches\/\*\.patch/);
        assert.equal(all(final, 'RUN').length, 0, 'the runtime stage runs no build step');
      });

      it('copies into the deps stage every workspace manifest npm ci needs', () => {
        const deps = stages.find((s) => all(s, 'RUN').some((r) => /--omit=dev/.test(r.args)))!;
        const copied = all(deps, 'COPY').flatMap((c) =>
          c.args
            .split(/\s+/)
            .filter((a) => !a.startsWith('--'))
            .slice(0, -1),
        );
        for (const ws of readJson('package.json').workspaces as string[]) {
          assert.ok(copied.includes(`${ws}/package.json`), `${ws}/package.json`);
        }
        for (const f of ['package.json', 'package-lock.json', 'patches'])
          assert.ok(copied.includes(f), f);
        for (const src of copied) assert.ok(fs.existsSync(path.join(ROOT, src)), `${src} exists`);
      });

      it('runs on a slim Node 20 image as a numeric non-root user (the chart UID)', () => {
        assert.match(resolve(final.from), /^node:20[\w.-]*-slim$/);
        const users = all(final, 'USER');
        assert.equal(users.length, 1);
        const [uid, gid] = users[0]!.args.split(':');
        assert.match(uid!, /^\d+$/);
        assert.notEqual(Number(uid), 0);
        assert.equal(uid, CHART_UID);
        assert.notEqual(Number(gid ?? uid), 0);
        assert.deepEqual(
          all(final, 'EXPOSE').flatMap((e) => e.args.split(/\s+/)),
          [...ports],
        );
      });

      it('names an entry point the TypeScript build produces, with the built workspaces copied', () => {
        const entry = execForm(all(final, 'ENTRYPOINT')[0]!);
        assert.equal(entry[0], 'node');
        const script = entry[1]!;
        assert.ok(script.startsWith('/app/'), script);
        const repoPath = script.slice('/app/'.length);
        assert.equal(repoPath, `${pkg}/dist/main.js`);
        assert.equal(emittedMain(pkg), repoPath, 'tsc -b emits src/main.ts there');
        // The package's bin is a committed shim (it must exist when npm links it, before the
        // build) whose one import is the entry point the image runs.
        const bin = Object.values(readJson(`${pkg}/package.json`).bin as Record<string, string>);
        assert.equal(bin.length, 1);
        const shim = path.posix.normalize(`${pkg}/${bin[0]}`);
        const imports = [
          ...fs.readFileSync(path.join(ROOT, shim), 'utf8').matchAll(/^import '([^']+)';$/gm),
        ].map((m) => path.posix.join(path.posix.dirname(shim), m[1]!));
        assert.deepEqual(imports, [repoPath], `${shim} imports the entry point`);
        assert.ok(
          fs.existsSync(path.join(ROOT, repoPath)),
          `${repoPath} exists in the build output (npm run build)`,
        );
        execForm(all(final, 'CMD')[0]!);
        const copies = all(final, 'COPY').map((c) => c.args);
        for (const ws of workspaceClosure(pkg)) {
          for (const what of ['dist', 'package.json', 'node_modules']) {
            assert.ok(
              copies.some((c) => c.includes(`/app/${ws}/${what} ./${ws}/${what}`)),
              `runtime has ${ws}/${what}`,
            );
          }
        }
      });
    });
  }

  describe('.dockerignore', () => {
    const ignored = dockerignore(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));

    it('keeps secrets, local state, dependencies, build output and VCS data out', () => {
      for (const file of [
        '.git/config',
        'node_modules/ssh2/lib/client.js',
        'bastion/node_modules/x/index.js',
        'bastion/dist/main.js',
        'sshcert/tsconfig.tsbuildinfo',
        '.neetodeploy-data/keys-service.sqlite',
        'keys-service/.neetodeploy-data/ca/user_ca',
        'data/keys-service.sqlite-wal',
        '.env',
        'keys-service/.env.production',
        'ca/user_ca',
        'ca/host_ca.pub',
        'home/.ssh/id_ed25519',
        'home/.ssh/id_ed25519-cert.pub',
        'tls/server.key',
        'tls/ca.pem',
        'ssh_host_ed25519_key',
        'ops/prod.kubeconfig',
        '.npmrc',
        '.tools/bin/helm',
        '.tmp/scratch',
        'test/fixtures/user_ca',
        'charts/neetodeploy-access/values.yaml',
      ]) {
        assert.ok(ignored(file), `${file} is excluded`);
      }
    });

    it('keeps every file the image builds need', () => {
      const listed = execFileSync(
        'git',
        ['ls-files', '--cached', '--others', '--exclude-standard'],
        {
          cwd: ROOT,
          encoding: 'utf8',
        },
      )
        .split('\n')
        .filter(Boolean);
      const workspaces = readJson('package.json').workspaces as string[];
      const needed = listed.filter(
        (f) =>
          [
            'package.json',
            'package-lock.json',
            'tsconfig.base.json',
            'tsconfig.build.json',
          ].includes(f) ||
          f.startsWith('patches/') ||
          workspaces.some(
            (ws) =>
              f === `${ws}/package.json` ||
              f === `${ws}/tsconfig.json` ||
              f.startsWith(`${ws}/src/`),
          ),
      );
      assert.ok(needed.length > 50, `${needed.length} files`);
      assert.deepEqual(needed.filter(ignored), []);
    });
  });
});
