/** The shared Platform conformance suite, run against the kubernetes platform over the fake API server. */
import { createKubernetesPlatform, type KubernetesPlatform } from '@neetodeploy/platform';
import { startFakeApiServer } from '../support/fake-apiserver/index.js';
import { runPlatformConformance } from '../support/platform-conformance.js';
import { platformConfig, seedApp, silent } from './kubernetes-harness.js';

runPlatformConformance(
  'kubernetes (fake API server)',
  async () => {
    const fake = await startFakeApiServer();
    const app = 'conformance';
    const pod = seedApp(fake, app);
    let ticks = 0;
    const ticker = setInterval(() => {
      try {
        fake.appendPodLog(app, pod, undefined, `tick ${++ticks}`);
      } catch {
        // The pod is gone at the end of the run.
      }
    }, 100);
    let platform: KubernetesPlatform | undefined;
    try {
      platform = await createKubernetesPlatform(platformConfig(fake), { logger: silent });
    } catch (err) {
      clearInterval(ticker);
      await fake.stop();
      throw err;
    }
    const ready = platform;
    return {
      platform: ready,
      app,
      async cleanup() {
        clearInterval(ticker);
        await ready.close();
        await fake.stop();
      },
    };
  },
  { logIntervalMs: 300, processesAreLocal: true },
);
