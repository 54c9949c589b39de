/**
 * A conversion's time left, measured in the page from the files' own progress: when each
 * file started (its first "decoding") and ended, as the services report them. Files overlap
 * (one decodes while another translates and a third encodes), so the pace is the batch's:
 * the seconds between finished files since the first one started. A file in flight counts
 * as partly done by how long it has run against the mean time a file takes, so the estimate
 * moves every second rather than jumping at each finished file; it never reads 0 while
 * files remain (`finishing` instead).
 *
 * A file translated tile by tile says how far it is (`fraction`, from the services at most 4
 * times a second): that counts as its part done instead of the guess from its time. Before a
 * first file ends, the file being translated gives the pace — the engine translates one file
 * at a time, so a file's translation time (its seconds translating over its fraction) is the
 * batch's pace — so even a single large image has an estimate; without a fraction there is
 * none until a file ends.
 */
import type { ConvertFileInfo } from '../../../shared/ipc-jobs';

export interface EtaReading {
  /** Seconds left; null: not known yet. */
  seconds: number | null;
  /** Files remain but the estimate has run out: the last ones are about to end. */
  finishing: boolean;
}

/** A file in flight counts as at most this much done, however long it has run. */
const MOST_DONE = 0.9;

export class ConvertEta {
  /** When each file was first seen converting, and when it ended (ms). */
  private readonly started = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  /** When each file was first seen translating (ms). */
  private readonly translating = new Map<string, number>();
  private first: number | null = null;

  /** Records the files as they stand at `now` (ms); call on every change and any time. */
  observe(files: readonly ConvertFileInfo[], now: number): void {
    for (const f of files) {
      if (f.status === 'converting' && !this.started.has(f.input)) {
        this.started.set(f.input, now);
        this.first ??= now;
      }
      if (
        f.status === 'converting' &&
        f.stage === 'translating' &&
        !this.translating.has(f.input)
      ) {
        this.translating.set(f.input, now);
      }
      const over = f.status === 'done' || f.status === 'failed';
      if (over && this.started.has(f.input) && !this.ended.has(f.input)) {
        this.ended.set(f.input, now);
      }
      if (f.status === 'queued' && this.ended.has(f.input)) {
        // Added again (a watched file changed): it will be converted anew.
        this.ended.delete(f.input);
        this.started.delete(f.input);
        this.translating.delete(f.input);
      }
    }
  }

  /** Seconds a file in flight has run (null: not seen starting). */
  elapsed(input: string, now: number): number | null {
    const at = this.started.get(input);
    if (at === undefined) return null;
    return Math.max(0, ((this.ended.get(input) ?? now) - at) / 1000);
  }

  /** The time left for these files at `now`. */
  read(files: readonly ConvertFileInfo[], now: number): EtaReading {
    const queued = files.filter((f) => f.status === 'queued').length;
    const inFlight = files.filter((f) => f.status === 'converting');
    if (!queued && !inFlight.length) return { seconds: 0, finishing: false };
    const finished = [...this.ended.keys()].filter((k) => this.started.has(k));
    let pace: number | null = null;
    let meanWall = 0;
    if (finished.length && this.first !== null) {
      const lastEnd = Math.max(...finished.map((k) => this.ended.get(k)!));
      // The batch's pace: one file per `pace` seconds, overlapping included.
      pace = (lastEnd - this.first) / 1000 / finished.length;
      // How long one file takes from first decode to written, on average.
      meanWall =
        finished.reduce((sum, k) => sum + (this.ended.get(k)! - this.started.get(k)!), 0) /
        1000 /
        finished.length;
    } else {
      pace = this.translationPace(inFlight, now);
    }
    if (pace === null) return { seconds: null, finishing: false };
    let left = queued;
    for (const f of inFlight) {
      const ran = this.elapsed(f.input, now) ?? 0;
      const done = f.fraction ?? (meanWall > 0 ? ran / meanWall : 0);
      left += 1 - Math.min(MOST_DONE, done);
    }
    const seconds = left * pace;
    return seconds < 1 ? { seconds: null, finishing: true } : { seconds, finishing: false };
  }

  /** Seconds a file's translation takes, from the one under way: null when none says. */
  private translationPace(inFlight: readonly ConvertFileInfo[], now: number): number | null {
    for (const f of inFlight) {
      const since = this.translating.get(f.input);
      if (f.stage !== 'translating' || !f.fraction || since === undefined) continue;
      const seconds = (now - since) / 1000;
      if (seconds > 0) return seconds / f.fraction;
    }
    return null;
  }
}
