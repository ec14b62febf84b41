interface Entry {
  time: number;
  text: string;
}

interface ContainerLog {
  current: Entry[];
  previous: Entry[] | undefined;
  followers: Set<Follower>;
}

interface Follower {
  since: number | undefined;
  timestamps: boolean;
  /** Hands over a new line (queued until the client reads on). */
  push: (e: Entry) => void;
  end: () => void;
  /** Lines selected for this client and not yet written to its response. */
  unwritten: () => number;
}

/**
 * Where a log stream writes: `write` returns false when the response's buffer is full (the
 * client is not reading), and `onDrain` calls back once it has room again.
 */
export interface LogSink {
  write(chunk: string): boolean;
  onDrain(callback: () => void): void;
  end(): void;
}

export interface LogQuery {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines: number | undefined;
  /** Epoch ms; lines before it are skipped. */
  since: number | undefined;
  limitBytes: number | undefined;
}

/** RFC3339Nano as Go prints it (trailing zeros of the fraction trimmed). */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.replace(/\.(\d+)Z$/, (_m, frac: string) => {
    const trimmed = frac.replace(/0+$/, '');
    return trimmed ? `.${trimmed}Z` : 'Z';
  });
}

function render(e: Entry, timestamps: boolean): string {
  return timestamps ? `${rfc3339Nano(e.time)} ${e.text}` : e.text;
}

/**
 * What each container printed, kept per container instance (current and previous), and the
 * followers of `kubectl logs -f` streams, which end when the container stops or restarts.
 */
export class LogBook {
  private readonly logs = new Map<string, ContainerLog>();

  private entry(ns: string, pod: string, container: string): ContainerLog {
    const key = `${ns}/${pod}/${container}`;
    let l = this.logs.get(key);
    if (!l) {
      l = { current: [], previous: undefined, followers: new Set() };
      this.logs.set(key, l);
    }
    return l;
  }

  append(ns: string, pod: string, container: string, line: string): void {
    const l = this.entry(ns, pod, container);
    const e: Entry = { time: Date.now(), text: line.endsWith('\n') ? line : `${line}\n` };
    l.current.push(e);
    for (const f of l.followers) {
      if (f.since === undefined || e.time >= f.since) f.push(e);
    }
  }

  /** The container restarted: what it printed becomes `previous`, followers end. */
  restart(ns: string, pod: string, container: string): void {
    const l = this.entry(ns, pod, container);
    l.previous = l.current;
    l.current = [];
    this.endFollowers(l);
  }

  /** The container stopped (pod finished or went away): followers end. */
  stop(ns: string, pod: string): void {
    for (const [key, l] of this.logs) if (key.startsWith(`${ns}/${pod}/`)) this.endFollowers(l);
  }

  forget(ns: string, pod: string): void {
    this.stop(ns, pod);
    for (const key of [...this.logs.keys()])
      if (key.startsWith(`${ns}/${pod}/`)) this.logs.delete(key);
  }

  followers(): number {
    let n = 0;
    for (const l of this.logs.values()) n += l.followers.size;
    return n;
  }

  /** Lines waiting for slow `logs -f` readers (a client that stops reading stops the writes). */
  unwrittenLines(): number {
    let n = 0;
    for (const l of this.logs.values()) for (const f of l.followers) n += f.unwritten();
    return n;
  }

  hasPrevious(ns: string, pod: string, container: string): boolean {
    return this.entry(ns, pod, container).previous !== undefined;
  }

  private endFollowers(l: ContainerLog): void {
    const fs = [...l.followers];
    l.followers.clear();
    for (const f of fs) f.end();
  }

  /**
   * Writes the selected lines, then (with `follow` and `running`) new ones until the container
   * stops; returns a cancel function for when the client goes away. Like the kubelet reading a
   * log file, it writes only as fast as the client reads: a full response buffer pauses the
   * writes until `drain`, and lines wait as references to the stored log.
   */
  open(
    ns: string,
    pod: string,
    container: string,
    q: LogQuery,
    running: boolean,
    sink: LogSink,
  ): () => void {
    const l = this.entry(ns, pod, container);
    let lines = (q.previous ? (l.previous ?? []) : l.current).filter(
      (e) => q.since === undefined || e.time >= q.since,
    );
    if (q.tailLines !== undefined) lines = q.tailLines === 0 ? [] : lines.slice(-q.tailLines);
    let budget = q.limitBytes ?? Infinity;
    let done = false;
    let ending = false;
    let waiting = false;
    const pending: Entry[] = [...lines];
    let next = 0;
    const finish = (): void => {
      if (done) return;
      done = true;
      l.followers.delete(follower);
      sink.end();
    };
    /** Writes until the buffer is full; ends the stream when asked and all is written. */
    const pump = (): void => {
      while (!done && !waiting && next < pending.length) {
        const chunk = render(pending[next++]!, q.timestamps);
        const bytes = Buffer.byteLength(chunk);
        if (bytes >= budget) {
          sink.write(Buffer.from(chunk).subarray(0, budget).toString());
          budget = 0;
          finish();
          return;
        }
        budget -= bytes;
        if (!sink.write(chunk)) {
          waiting = true;
          sink.onDrain(() => {
            waiting = false;
            pump();
          });
        }
      }
      if (next > 4096 && next === pending.length) {
        pending.length = 0;
        next = 0;
      }
      if (!done && ending && next >= pending.length) finish();
    };
    const follower: Follower = {
      since: q.since,
      timestamps: q.timestamps,
      push: (e) => {
        pending.push(e);
        pump();
      },
      end: () => {
        ending = true;
        pump();
      },
      unwritten: () => pending.length - next,
    };
    if (q.follow && running && !q.previous) l.followers.add(follower);
    else ending = true;
    pump();
    return finish;
  }
}
