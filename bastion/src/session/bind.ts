/**
 * Binding a console to its channel: client data to the console's stdin with backpressure, EOF
 * both ways, stdout and stderr to the channel without unbounded buffering. Every byte counts as
 * traffic for the connection's idle timeout.
 */
import type { Console, ExitStatus } from '@neetodeploy/platform';
import { drained, pump } from './flow.js';
import type { SessionRun } from './types.js';

/**
 * Resolves with the console's exit status once both output streams ended and were sent to the
 * client; rejects as `done`.
 */
export async function bindStreams(run: SessionRun, c: Console): Promise<ExitStatus> {
  const { channel, scope } = run;
  if (run.channelClosed) {
    c.kill();
  } else {
    channel.on('data', (chunk: Buffer) => {
      run.bytesIn += chunk.length;
      run.recorder?.input(chunk);
      scope.touch();
      if (!c.stdin.write(chunk)) {
        channel.pause();
        c.stdin.once('drain', () => channel.resume());
      }
    });
    channel.on('end', () => c.stdin.end());
    c.stdin.on('error', () => channel.resume()); // the process closed its stdin: drop input
  }
  const onOut = (n: number): void => {
    run.bytesOut += n;
    scope.touch();
  };
  const rec = run.recorder;
  const onStdout = rec ? (n: number, d: Buffer) => (onOut(n), rec.output(d)) : onOut;
  const onStderr = rec ? (n: number, d: Buffer) => (onOut(n), rec.stderr(d)) : onOut;
  const transport = scope.conn.info.transport;
  await Promise.all([
    pump(c.stdout, channel, transport, run.closed, onStdout),
    pump(c.stderr, channel.stderr, transport, run.closed, onStderr),
  ]);
  const status = await c.done;
  await Promise.all([drained(channel, run.closed), drained(channel.stderr, run.closed)]);
  return status;
}
