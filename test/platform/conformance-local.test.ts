/** The shared Platform conformance suite, run against the local platform. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLocalPlatform } from '@neetodeploy/platform';
import { runPlatformConformance } from '../support/platform-conformance.js';

runPlatformConformance(
  'local',
  async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-platform-conf-'));
    const appDir = path.join(dataDir, 'apps', 'conformance');
    fs.mkdirSync(appDir, { recursive: true });
    fs.writeFileSync(
      path.join(appDir, 'Procfile'),
      'ticker: while :; do echo "tick $(date +%s)"; sleep 0.2; done\n',
    );
    const platform = await createLocalPlatform(
      {
        dataDir,
        runProcesses: true,
        createDemoApp: false,
        limits: { stopGraceMs: 1000, logPollMs: 50 },
      },
      { logger: pino({ level: 'silent' }) },
    );
    return {
      platform,
      app: 'conformance',
      async cleanup() {
        await platform.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
  { logIntervalMs: 300, processesAreLocal: true },
);
