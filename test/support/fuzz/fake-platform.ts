/**
 * A platform for the protocol fuzzer: one app, `demo`, whose consoles run nothing. Fuzzed exec
 * commands, env and subsystems reach `openConsole` as data and are never executed on the build
 * machine; each console answers with a line and exits 0 once its stdin ends (or at once for a
 * command), so sessions finish quickly and the bastion's whole session path still runs.
 */
import { PassThrough, Writable } from 'node:stream';
import { NotFound, PortForwardRefused } from '@neetodeploy/platform';
import type {
  AppInfo,
  Console,
  ConsoleOptions,
  ExitStatus,
  Platform,
  PortForwardStream,
} from '@neetodeploy/platform';

const APP: AppInfo = { name: 'demo', processTypes: ['web'] };

function fakeConsole(options: ConsoleOptions): Console {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let finish: (s: ExitStatus) => void = () => undefined;
  const done = new Promise<ExitStatus>((resolve) => (finish = resolve));
  let ended = false;
  const end = (status: ExitStatus): void => {
    if (ended) return;
    ended = true;
    stdout.end(`fuzz console: ${options.command === undefined ? 'shell' : 'exec'}\n`);
    stderr.end();
    void Promise.all([
      new Promise((r) => stdout.once('end', r)),
      new Promise((r) => stderr.once('end', r)),
    ]).then(() => finish(status));
    stdout.resume();
    stderr.resume();
  };
  const stdin = new Writable({
    write: (_chunk, _enc, cb) => cb(),
    final: (cb) => {
      end({ code: 0 });
      cb();
    },
  });
  if (options.command !== undefined) setImmediate(() => end({ code: 0 }));
  else setTimeout(() => end({ code: 0 }), 200).unref();
  return {
    stdin,
    stdout,
    stderr,
    where: 'fuzz:0',
    resize: () => undefined,
    signal: (name) => {
      if (name === 'KILL' || name === 'TERM') end({ signal: name });
    },
    kill: () => end({ signal: 'KILL' }),
    done,
  };
}

export function createFuzzPlatform(): Platform {
  const known = (app: string): void => {
    if (app !== APP.name) throw new NotFound(`no app named ${app}`);
  };
  return {
    listApps: () => Promise.resolve([APP]),
    getApp: (app) => {
      known(app);
      return Promise.resolve(APP);
    },
    listProcesses: (app) => {
      known(app);
      return Promise.resolve([{ name: 'web.1', type: 'web', state: 'running' }]);
    },
    openConsole: async (app, options) => {
      await Promise.resolve();
      known(app);
      return fakeConsole(options);
    },
    // eslint-disable-next-line require-yield
    streamLogs: async function* () {
      await Promise.resolve();
    },
    getConfigVars: () => Promise.resolve({ vars: {}, version: '0' }),
    updateConfigVars: () => Promise.resolve({ vars: {}, version: '0' }),
    openPortForward: (app, options): Promise<PortForwardStream> =>
      Promise.reject(new PortForwardRefused(`nothing listens on ${app}:${options.port}`)),
    close: () => Promise.resolve(),
  };
}
