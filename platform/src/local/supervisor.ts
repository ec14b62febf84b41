/**
 * Runs the apps' Procfile processes: one instance per process type (`web.1`), each in its own
 * process group with the app's config vars and a `PORT`, output captured line by line into the
 * log store, crashes restarted with backoff, config changes restarting the app (as Heroku).
 * Its state is mirrored into `<dataDir>/run/<app>.json` so other processes on the host (a
 * bastion-only server) can list instances and exec beside them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { LogLine, ProcessInfo } from '../types.js';
import type { LocalPlatformConfig } from './config.js';
import type { ConfigStore } from './config-store.js';
import type { Isolation } from './isolation.js';
import { writeFileAtomicSync } from './files.js';
import {
  API_PROCESS,
  APP_SOURCE,
  LogWriter,
  PLATFORM_SOURCE,
  appendShared,
  type LogBus,
} from './log-store.js';
import type { LocalPaths } from './paths.js';
import { parseProcfile, type ProcfileEntry } from './procfile.js';
import { groupExists, killGroup, processExists, signalNameOf } from './signals.js';
import { EVENTS } from './events.js';

type State = ProcessInfo['state'];

/** What the run file records per instance; no environment (it holds secrets). */
export interface RunRecord {
  readonly name: string;
  readonly type: string;
  readonly pid: number | undefined;
  readonly port: number;
  readonly state: State;
  readonly startedAt: string | undefined;
}

async function isInstanceProcess(pid: number, name: string, appDir: string): Promise<boolean> {
  try {
    const [environ, cwd] = await Promise.all([
      fsp.readFile(`/proc/${pid}/environ`, 'utf8'),
      fsp.readlink(`/proc/${pid}/cwd`),
    ]);
    return environ.split('\0').includes(`DYNO=${name}`) && cwd === fs.realpathSync(appDir);
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Splits a byte stream into lines, cutting (and marking) lines longer than the bound. */
class LineSplitter {
  private pending = '';
  private dropping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly emit: (lines: string[]) => void,
  ) {}

  push(chunk: string): void {
    const parts = (this.pending + chunk).split('\n');
    this.pending = parts.pop() ?? '';
    const lines: string[] = [];
    for (const part of parts) {
      if (this.dropping) {
        this.dropping = false;
        continue;
      }
      lines.push(this.cut(part.endsWith('\r') ? part.slice(0, -1) : part));
    }
    if (Buffer.byteLength(this.pending) > this.maxBytes) {
      if (!this.dropping) lines.push(this.cut(this.pending));
      this.dropping = true;
      this.pending = '';
    }
    if (lines.length > 0) this.emit(lines);
  }

  flush(): void {
    if (this.pending !== '' && !this.dropping) this.emit([this.cut(this.pending)]);
    this.pending = '';
    this.dropping = false;
  }

  private cut(line: string): string {
    if (Buffer.byteLength(line) <= this.maxBytes) return line;
    return `${Buffer.from(line).subarray(0, this.maxBytes).toString('utf8')} [line truncated]`;
  }
}

class Instance {
  state: State = 'stopped';
  child: ChildProcess | undefined;
  pid: number | undefined;
  port = 0;
  startedAt: Date | undefined;
  env: Record<string, string> = {};
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  readonly name: string;

  constructor(
    readonly app: AppRunner,
    readonly entry: ProcfileEntry,
  ) {
    this.name = `${entry.type}.1`;
    this.backoffMs = app.config.limits.restartBackoffMs;
  }

  get type(): string {
    return this.entry.type;
  }

  record(): RunRecord {
    return {
      name: this.name,
      type: this.type,
      pid: this.state === 'running' || this.state === 'starting' ? this.pid : undefined,
      port: this.port,
      state: this.state,
      startedAt: this.startedAt?.toISOString(),
    };
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.setState('starting');
    const vars = (await this.app.configStore.get(this.app.name)).vars;
    this.port = this.port || (await freePort());
    if (this.stopping) {
      this.setState('stopped');
      return;
    }
    this.env = {
      ...this.app.config.baseEnv,
      ...vars,
      PORT: String(this.port),
      DYNO: this.name,
    };
    this.app.platformLine(this.name, `Starting process with command \`${this.entry.command}\``);
    const { isolation } = this.app;
    await isolation.prepare(this.app.name);
    if (this.stopping) {
      this.setState('stopped');
      return;
    }
    const [file, ...args] = isolation.argv(this.app.name, ['/bin/sh', '-c', this.entry.command]);
    const child = spawn(file, args, {
      cwd: this.app.dir,
      env: this.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const startedAt = new Date();
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.onExit(child, startedAt, code, signal);
        resolve();
      };
      // The instance ends with its main process (as a dyno does), even if something it
      // started still holds its output open: that is told to stop too.
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) killGroup(child.pid, 'SIGTERM');
        finish(code, signal);
      });
      child.once('error', (err) => {
        this.app.logger.error({ err, process: this.name }, EVENTS.processSpawnFailed);
        finish(127, null);
      });
    });
    this.pid = child.pid;
    this.startedAt = startedAt;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      stream.setEncoding('utf8');
      const { maxLogLineBytes, maxLogFileBytes } = this.app.config.limits;
      // A line never fills a log file by itself.
      const lineBound = Math.min(maxLogLineBytes, Math.floor(maxLogFileBytes / 4));
      const splitter = new LineSplitter(lineBound, (lines) => this.app.appLines(this.name, lines));
      stream.on('data', (chunk: string) => splitter.push(chunk));
      stream.on('end', () => splitter.flush());
    }
    if (this.pid !== undefined) {
      this.setState('running');
      this.app.logger.info(
        { process: this.name, pid: this.pid, port: this.port },
        EVENTS.processStarted,
      );
    }
  }

  private onExit(
    child: ChildProcess,
    startedAt: Date,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (this.child !== child) return;
    this.child = undefined;
    const how = signal ? `signal SIG${signalNameOf(signal)}` : `status ${code ?? 0}`;
    this.app.platformLine(this.name, `Process exited with ${how}`);
    if (this.stopping) {
      this.setState('stopped');
      return;
    }
    const ranMs = Date.now() - startedAt.getTime();
    if (ranMs >= this.app.config.limits.restartResetAfterMs) {
      this.backoffMs = this.app.config.limits.restartBackoffMs;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.app.config.limits.restartBackoffMaxMs);
    this.setState('crashed');
    this.app.logger.warn(
      { process: this.name, code, signal, delayMs: delay },
      EVENTS.processCrashed,
    );
    this.app.platformLine(this.name, `State changed from up to crashed; restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.start().catch((err: unknown) => {
        this.app.logger.error({ err, process: this.name }, EVENTS.processSpawnFailed);
      });
    }, delay);
  }

  /** TERM to the group; KILL to whatever of the group is left after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const pid = this.pid;
    if (this.child && pid !== undefined) {
      this.app.platformLine(this.name, 'Stopping all processes with SIGTERM');
      killGroup(pid, 'SIGTERM');
      const grace = this.app.config.limits.stopGraceMs;
      const deadline = Date.now() + grace;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        sleep(grace, true, { ref: false }),
      ]);
      if (timedOut) {
        this.app.platformLine(this.name, 'Stopping process with SIGKILL');
        killGroup(pid, 'SIGKILL');
      }
      // Children the process left behind in its group get the rest of the grace, then KILL.
      while (groupExists(pid) && Date.now() < deadline) await sleep(20);
      if (groupExists(pid)) killGroup(pid, 'SIGKILL');
      await this.exited;
    }
    this.setState('stopped');
  }

  private setState(state: State): void {
    this.state = state;
    this.app.writeRunFile();
  }
}

/** One app's instances. */
class AppRunner {
  instances: Instance[] = [];
  procfileText = '';
  configVersion = '';
  private writer = new Map<string, LogWriter>();
  readonly logger: Logger;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly config: LocalPlatformConfig,
    readonly configStore: ConfigStore,
    readonly isolation: Isolation,
    private readonly paths: LocalPaths,
    private readonly bus: LogBus,
    logger: Logger,
  ) {
    this.logger = logger.child({ app: name });
  }

  async start(procfileText: string): Promise<void> {
    this.procfileText = procfileText;
    this.configVersion = (await this.configStore.get(this.name)).version;
    // An instance keeps its port across restarts, so a URL someone uses stays valid.
    const ports = new Map(this.instances.map((i) => [i.name, i.port]));
    this.instances = parseProcfile(procfileText).map((entry) => {
      const instance = new Instance(this, entry);
      instance.port = ports.get(instance.name) ?? 0;
      return instance;
    });
    for (const instance of this.instances) await instance.start();
    this.writeRunFile();
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.stop()));
  }

  /** `apiLine`: an app-wide log line, when no other part logged the cause already. */
  async restart(procfileText: string, reason: string, apiLine?: string): Promise<void> {
    if (apiLine) this.platformLine(API_PROCESS, apiLine);
    this.logger.info({ reason }, EVENTS.appRestarting);
    for (const instance of this.instances)
      this.platformLine(instance.name, `Restarting (${reason})`);
    await this.stop();
    await this.start(procfileText);
  }

  close(): void {
    for (const writer of this.writer.values()) writer.close();
    this.writer.clear();
    fs.rmSync(this.paths.runFile(this.name), { force: true });
  }

  appLines(instance: string, lines: readonly string[]): void {
    const time = new Date();
    this.write(
      instance,
      lines.map((line) => ({ time, source: APP_SOURCE, process: instance, line })),
    );
  }

  platformLine(instance: string, line: string): void {
    this.write(instance, [{ time: new Date(), source: PLATFORM_SOURCE, process: instance, line }]);
  }

  private apiLogFile(): string {
    return path.join(this.paths.appLogDir(this.name), `${API_PROCESS}.log`);
  }

  writeRunFile(): void {
    const records = this.instances.map((i) => i.record());
    try {
      writeFileAtomicSync(
        this.paths.runFile(this.name),
        `${JSON.stringify({ supervisorPid: process.pid, instances: records })}\n`,
      );
    } catch (err) {
      this.logger.warn({ err }, EVENTS.runFileFailed);
    }
  }

  private write(instance: string, lines: LogLine[]): void {
    if (instance === API_PROCESS) {
      // Other processes on the data dir append to this file too: no cached descriptor.
      try {
        for (const line of lines)
          appendShared(this.apiLogFile(), this.config.limits.maxLogFileBytes, line);
      } catch (err) {
        this.logger.warn({ err, process: instance }, EVENTS.logWriteFailed);
        return;
      }
      this.bus.emit('append', this.name);
      return;
    }
    let writer = this.writer.get(instance);
    if (!writer) {
      writer = new LogWriter(
        path.join(this.paths.appLogDir(this.name), `${instance}.log`),
        this.config.limits.maxLogFileBytes,
      );
      this.writer.set(instance, writer);
    }
    try {
      writer.write(lines);
    } catch (err) {
      // A full disk must not take the app down with it; the lines are lost, the app runs on.
      this.logger.warn({ err, process: instance }, EVENTS.logWriteFailed);
      return;
    }
    this.bus.emit('append', this.name);
  }
}

export class Supervisor {
  private readonly apps = new Map<string, AppRunner>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private scanning: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: LocalPlatformConfig,
    private readonly paths: LocalPaths,
    private readonly configStore: ConfigStore,
    private readonly isolation: Isolation,
    private readonly bus: LogBus,
    private readonly logger: Logger,
    private readonly isApp: (name: string) => boolean,
  ) {}

  async start(): Promise<void> {
    await this.stopOrphans();
    await this.scan();
    this.schedule();
  }

  /**
   * Processes a previous supervisor of this data dir left running when it died (they hold the
   * apps' ports). Only a process that still has the recorded instance's DYNO and app folder is
   * treated as one: a recycled pid is left alone.
   */
  private async stopOrphans(): Promise<void> {
    let files: string[];
    try {
      files = (await fsp.readdir(this.paths.runDir)).filter((f) => f.endsWith('.json'));
    } catch {
      return;
    }
    const orphans: number[] = [];
    for (const file of files) {
      const app = file.slice(0, -'.json'.length);
      if (!this.isApp(app)) continue;
      let records: RunRecord[] = [];
      try {
        const parsed = JSON.parse(
          await fsp.readFile(path.join(this.paths.runDir, file), 'utf8'),
        ) as { instances?: RunRecord[] };
        records = Array.isArray(parsed.instances) ? parsed.instances : [];
      } catch {
        continue;
      }
      for (const record of records) {
        if (record.pid === undefined || !processExists(record.pid)) continue;
        if (await isInstanceProcess(record.pid, record.name, this.paths.appDir(app))) {
          this.logger.warn({ app, process: record.name, pid: record.pid }, EVENTS.orphanStopped);
          killGroup(record.pid, 'SIGTERM');
          orphans.push(record.pid);
        }
      }
      await fsp.rm(path.join(this.paths.runDir, file), { force: true });
    }
    const deadline = Date.now() + this.config.limits.stopGraceMs;
    while (orphans.some(groupExists) && Date.now() < deadline) await sleep(20);
    for (const pid of orphans) killGroup(pid, 'SIGKILL');
  }

  /** Starts new apps, restarts changed ones (Procfile, config vars from another process). */
  scan(): Promise<void> {
    this.scanning = this.scanning
      .then(() => this.doScan())
      .catch((err: unknown) => {
        this.logger.error({ err }, EVENTS.scanFailed);
      });
    return this.scanning;
  }

  processes(app: string): ProcessInfo[] | undefined {
    const runner = this.apps.get(app);
    if (!runner) return undefined;
    return runner.instances.map((i) => ({
      name: i.name,
      type: i.type,
      state: i.state,
      ...(i.startedAt && i.state === 'running' ? { startedAt: i.startedAt } : {}),
    }));
  }

  /** A running instance (by instance name or by type) with the environment it runs with. */
  runningInstance(
    app: string,
    target: { process?: string; pod?: string },
  ): { name: string; pid: number; env: Record<string, string> } | undefined {
    const runner = this.apps.get(app);
    const instance = runner?.instances.find(
      (i) =>
        i.state === 'running' &&
        i.pid !== undefined &&
        (target.pod === undefined || i.name === target.pod) &&
        (target.process === undefined || i.type === target.process),
    );
    if (!instance || instance.pid === undefined) return undefined;
    return { name: instance.name, pid: instance.pid, env: { ...instance.env } };
  }

  /** After a config change made in this process. */
  async configChanged(app: string, version: string, restart: boolean): Promise<void> {
    const work = this.scanning.then(async () => {
      const runner = this.apps.get(app);
      if (!runner || this.closed) return;
      runner.configVersion = version;
      if (restart) await runner.restart(runner.procfileText, 'config vars changed');
    });
    this.scanning = work.catch((err: unknown) => {
      this.logger.error({ err, app }, EVENTS.scanFailed);
    });
    await work;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.scanning;
    await Promise.all([...this.apps.values()].map((runner) => runner.stop()));
    for (const runner of this.apps.values()) runner.close();
    this.apps.clear();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.scan().then(() => this.schedule());
    }, this.config.limits.appScanMs);
    this.timer.unref();
  }

  private async doScan(): Promise<void> {
    if (this.closed) return;
    let names: string[] = [];
    try {
      names = (await fsp.readdir(this.paths.appsDir)).filter(this.isApp).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const seen = new Set<string>();
    for (const name of names) {
      let procfile: string;
      try {
        procfile = await fsp.readFile(this.paths.procfile(name), 'utf8');
      } catch {
        continue;
      }
      if (this.closed) return;
      seen.add(name);
      const runner = this.apps.get(name);
      if (!runner) {
        const created = new AppRunner(
          name,
          this.paths.appDir(name),
          this.config,
          this.configStore,
          this.isolation,
          this.paths,
          this.bus,
          this.logger,
        );
        this.apps.set(name, created);
        await created.start(procfile);
        continue;
      }
      if (runner.procfileText !== procfile) {
        await runner.restart(procfile, 'Procfile changed', 'Procfile changed');
        continue;
      }
      const stored = await this.configStore.get(name);
      if (stored.version !== runner.configVersion) {
        runner.configVersion = stored.version;
        if (stored.restart) await runner.restart(procfile, 'config vars changed');
      }
    }
    for (const [name, runner] of this.apps) {
      if (seen.has(name)) continue;
      this.apps.delete(name);
      await runner.stop();
      runner.close();
    }
  }
}
