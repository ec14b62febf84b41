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
  write: (chunk: string) => void;
  end: () => void;
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
      if (f.since === undefined || e.time >= f.since) f.write(render(e, f.timestamps));
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
   * stops; returns a cancel function for when the client goes away.
   */
  open(
    ns: string,
    pod: string,
    container: string,
    q: LogQuery,
    running: boolean,
    write: (chunk: string) => void,
    end: () => void,
  ): () => void {
    const l = this.entry(ns, pod, container);
    let lines = (q.previous ? (l.previous ?? []) : l.current).filter(
      (e) => q.since === undefined || e.time >= q.since,
    );
    if (q.tailLines !== undefined) lines = q.tailLines === 0 ? [] : lines.slice(-q.tailLines);
    let budget = q.limitBytes ?? Infinity;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      l.followers.delete(follower);
      end();
    };
    const limitedWrite = (chunk: string): void => {
      if (done) return;
      const bytes = Buffer.byteLength(chunk);
      if (bytes >= budget) {
        write(Buffer.from(chunk).subarray(0, budget).toString());
        budget = 0;
        finish();
        return;
      }
      budget -= bytes;
      write(chunk);
    };
    const follower: Follower = {
      since: q.since,
      timestamps: q.timestamps,
      write: limitedWrite,
      end: finish,
    };
    for (const e of lines) limitedWrite(render(e, q.timestamps));
    if (!done) {
      if (q.follow && running && !q.previous) l.followers.add(follower);
      else finish();
    }
    return finish;
  }
}
