/**
 * The recording library's place in ARCHITECTURE.md's dependency rules (eslint.config.js): it
 * imports nothing of ours but the contract, platform does not import it, and the bastion and
 * keys-service may.
 */
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { ROOT } from '../support/paths.js';

const forbidden = [
  { file: 'recording/src/probe.ts', code: `import '@neetodeploy/platform';` },
  { file: 'recording/src/probe.ts', code: `import '@neetodeploy/sshcert';` },
  { file: 'recording/src/probe.ts', code: `import '@neetodeploy/bastion';` },
  { file: 'recording/src/stores/probe.ts', code: `import '../../../keys-service/src/index.js';` },
  { file: 'platform/src/probe.ts', code: `import '@neetodeploy/recording';` },
  { file: 'recording/src/probe.ts', code: `import '../../test/support/paths.js';` },
];
const permitted = [
  {
    file: 'recording/src/probe.ts',
    code: `import '@neetodeploy/contract';\nimport { S3Client } from '@aws-sdk/client-s3';\nimport './types.js';`,
  },
  { file: 'bastion/src/probe.ts', code: `import '@neetodeploy/recording';` },
  { file: 'keys-service/src/probe.ts', code: `import '@neetodeploy/recording';` },
];

describe('recording: dependency rules', function () {
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: ROOT, overrideConfig: [tseslint.configs.disableTypeChecked] });
  });

  async function violations(file: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: file });
    return result!.messages
      .filter((m) => m.fatal === true || m.ruleId === 'boundaries/dependencies')
      .map((m) => m.message);
  }

  for (const c of forbidden) {
    it(`reports ${c.file}: ${c.code}`, async () => {
      const found = await violations(c.file, c.code);
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.match(found[0]!, /ARCHITECTURE\.md/);
    });
  }
  for (const c of permitted) {
    it(`permits ${c.file}: ${c.code.split('\n')[0]}`, async () => {
      assert.deepEqual(await violations(c.file, c.code), []);
    });
  }
  it('lints recording/ with the dependency rules', async () => {
    const config = (await eslint.calculateConfigForFile('recording/src/index.ts')) as {
      rules: Record<string, [number, ...unknown[]]>;
    };
    assert.equal(config.rules['boundaries/dependencies']?.[0], 2);
  });
});
