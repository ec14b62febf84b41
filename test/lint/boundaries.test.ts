/**
 * The dependency rules of ARCHITECTURE.md hold themselves: `npm run lint` (eslint.config.js)
 * reports an import that breaks one, and lets every permitted one through. Each case lints a
 * string as if it were a file of that workspace, with the repository's own config (type-aware
 * rules off, so no TypeScript program is built: the dependency rules need none).
 */
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { ROOT } from '../support/paths.js';

const RULES = new Set([
  'boundaries/dependencies',
  'no-restricted-imports',
  'no-restricted-properties',
]);

interface Case {
  /** The file the code is linted as (it need not exist). */
  readonly file: string;
  readonly code: string;
}

const forbidden: Array<Case & { readonly rule: string }> = [
  // sshcert and contract depend on nothing internal
  {
    file: 'sshcert/src/probe.ts',
    code: `import '@neetodeploy/contract';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'sshcert/src/probe.ts',
    code: `import '@neetodeploy/platform';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'contract/src/probe.ts',
    code: `import '@neetodeploy/sshcert';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'contract/src/probe.ts',
    code: `import { parse } from 'yaml';`,
    rule: 'boundaries/dependencies',
  },
  // platform knows no SSH or HTTP server, and no server
  {
    file: 'platform/src/probe.ts',
    code: `import { Server } from 'ssh2';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'platform/src/probe.ts',
    code: `import express from 'express';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'platform/src/probe.ts',
    code: `import { createServer } from 'node:http';`,
    rule: 'no-restricted-imports',
  },
  {
    file: 'platform/src/probe.ts',
    code: `import https from 'node:https';\nhttps.createServer();`,
    rule: 'no-restricted-properties',
  },
  {
    file: 'platform/src/probe.ts',
    code: `import '@neetodeploy/keys-service';`,
    rule: 'boundaries/dependencies',
  },
  // bastion and keys-service never import each other, whichever way the import is written
  {
    file: 'bastion/src/probe.ts',
    code: `import { createKeysService } from '@neetodeploy/keys-service';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'bastion/src/auth/probe.ts',
    code: `import '../../../keys-service/src/index.js';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'bastion/src/probe.ts',
    code: `export * from '@neetodeploy/keys-service';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'bastion/src/probe.ts',
    code: `await import('@neetodeploy/keys-service');`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'keys-service/src/probe.ts',
    code: `import type { Bastion } from '@neetodeploy/bastion';`,
    rule: 'boundaries/dependencies',
  },
  // the CLI imports no server
  {
    file: 'cli/src/probe.ts',
    code: `import '@neetodeploy/bastion';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'cli/src/commands/probe.ts',
    code: `import '@neetodeploy/keys-service';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'cli/src/probe.ts',
    code: `import '@neetodeploy/platform';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'cli/src/probe.ts',
    code: `import '@neetodeploy/all-in-one';`,
    rule: 'boundaries/dependencies',
  },
  // only all-in-one wires servers; production code never imports tests
  {
    file: 'keys-service/src/probe.ts',
    code: `import '@neetodeploy/all-in-one';`,
    rule: 'boundaries/dependencies',
  },
  {
    file: 'bastion/src/probe.ts',
    code: `import '../../test/support/paths.js';`,
    rule: 'boundaries/dependencies',
  },
];

const permitted: Case[] = [
  { file: 'sshcert/src/probe.ts', code: `import crypto from 'node:crypto';\nimport './types.js';` },
  { file: 'contract/src/probe.ts', code: `import * as z from 'zod';\nimport './app-name.js';` },
  {
    file: 'platform/src/probe.ts',
    code: `import http from 'node:http';\nimport type { IncomingMessage } from 'node:http';\nimport * as k8s from '@kubernetes/client-node';\nimport '@neetodeploy/sshcert';\nimport '@neetodeploy/contract';\nnew http.Agent();`,
  },
  {
    file: 'keys-service/src/probe.ts',
    code: `import express from 'express';\nimport '@neetodeploy/platform';\nimport '@neetodeploy/sshcert';\nimport '@neetodeploy/contract';`,
  },
  {
    file: 'bastion/src/probe.ts',
    code: `import { Server } from 'ssh2';\nimport '@neetodeploy/platform';\nimport '@neetodeploy/sshcert';\nimport '@neetodeploy/contract';\nimport './auth/verify.js';`,
  },
  {
    file: 'cli/src/probe.ts',
    code: `import { Client } from 'ssh2';\nimport '@neetodeploy/sshcert';\nimport '@neetodeploy/contract';`,
  },
  {
    file: 'all-in-one/src/probe.ts',
    code: `import '@neetodeploy/bastion';\nimport '@neetodeploy/keys-service';\nimport '@neetodeploy/platform';`,
  },
  {
    file: 'test/probe.test.ts',
    code: `import '@neetodeploy/bastion';\nimport '@neetodeploy/keys-service';\nimport '@neetodeploy/all-in-one';\nimport '../cli/src/main.js';`,
  },
  {
    file: 'bench/probe.ts',
    code: `import '@neetodeploy/all-in-one';\nimport '../test/support/paths.js';`,
  },
];

describe('lint: the dependency rules of ARCHITECTURE.md', function () {
  let eslint: ESLint;

  before(function () {
    eslint = new ESLint({ cwd: ROOT, overrideConfig: [tseslint.configs.disableTypeChecked] });
  });

  async function violations({
    file,
    code,
  }: Case): Promise<Array<{ rule: string; message: string }>> {
    const [result] = await eslint.lintText(code, { filePath: file });
    return result!.messages
      .filter((m) => m.fatal === true || RULES.has(m.ruleId ?? ''))
      .map((m) => ({ rule: m.ruleId ?? 'fatal', message: m.message }));
  }

  describe('reports', function () {
    for (const c of forbidden) {
      it(`${c.file}: ${c.code.split('\n').at(-1)}`, async function () {
        const found = await violations(c);
        assert.equal(found.length, 1, JSON.stringify(found));
        assert.equal(found[0]!.rule, c.rule);
        assert.match(found[0]!.message, /ARCHITECTURE\.md/);
      });
    }
  });

  describe('permits', function () {
    for (const c of permitted) {
      it(`${c.file}: ${c.code.split('\n').filter((l) => l.startsWith('import')).length} imports`, async function () {
        assert.deepEqual(await violations(c), []);
      });
    }
  });

  it('is part of the config `npm run lint` uses for every workspace source file', async function () {
    for (const file of [
      'sshcert',
      'contract',
      'platform',
      'keys-service',
      'bastion',
      'cli',
      'all-in-one',
    ]) {
      const config = (await eslint.calculateConfigForFile(`${file}/src/index.ts`)) as {
        rules: Record<string, [number, ...unknown[]]>;
      };
      assert.equal(config.rules['boundaries/dependencies']?.[0], 2, file);
    }
  });
});
