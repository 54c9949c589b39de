/**
 * What the page tells the artist outside the view they are on: short toasts (a job ended, a
 * drop went somewhere it cannot), the page title while jobs run and after one ends (so a
 * background tab says it), and the browser's Notification API for a long job ending, once
 * permitted. The desktop app shows its own OS notification and taskbar progress
 * (main/app/job-feedback.ts), so the page does not notify there.
 */
import { isFinished, type JobSnapshot } from '../../../../shared/ipc-jobs';

export type ToastTone = 'ok' | 'error' | 'info';

export interface Toast {
  id: number;
  text: string;
  tone: ToastTone;
}

/** A job this long (or ending while the page is hidden) gets a system notification. */
export const LONG_JOB_SECONDS = 30;
/** How long a toast stays, unless dismissed. */
export const TOAST_MS = 10_000;

const ENDED_WORDS: Record<string, string> = {
  completed: 'finished',
  failed: 'failed',
  cancelled: 'stopped',
};

/** What of the browser this needs (absent parts: no title, no notifications). */
export interface NoticeHost {
  hidden(): boolean;
  notificationPermission(): NotificationPermission | 'unsupported';
  requestNotifications(): Promise<NotificationPermission>;
  notify(title: string, body: string): void;
}

export function browserNoticeHost(win: Window & typeof globalThis): NoticeHost {
  const N = 'Notification' in win ? win.Notification : null;
  return {
    hidden: () => win.document.visibilityState === 'hidden',
    notificationPermission: () => (N ? N.permission : 'unsupported'),
    requestNotifications: () => (N ? N.requestPermission() : Promise.resolve('denied')),
    notify: (title, body) => {
      if (N && N.permission === 'granted') new N(title, { body });
    },
  };
}

export class Notices {
  toasts = $state<Toast[]>([]);
  /** Shown in the page title until the artist comes back to the page. */
  titleNote = $state<string | null>(null);
  permission = $state<NotificationPermission | 'unsupported'>('unsupported');
  private next = 1;

  constructor(
    private readonly host: NoticeHost | null,
    /** Whether the page may use the Notification API (not in the desktop app). */
    private readonly webNotifications: () => boolean,
  ) {
    this.permission = host?.notificationPermission() ?? 'unsupported';
  }

  toast(text: string, tone: ToastTone = 'info', ms = TOAST_MS): number {
    const id = this.next++;
    this.toasts.push({ id, text, tone });
    if (ms > 0) setTimeout(() => this.dismiss(id), ms);
    return id;
  }

  dismiss(id: number): void {
    const at = this.toasts.findIndex((t) => t.id === id);
    if (at >= 0) this.toasts.splice(at, 1);
  }

  /** The artist is back on the page: the title's note has been seen. */
  seen(): void {
    this.titleNote = null;
  }

  async askPermission(): Promise<void> {
    if (!this.host) return;
    this.permission = await this.host.requestNotifications();
  }

  /**
   * A job's new snapshot arrived after `before`: when it just ended, say so — a toast, the
   * title, and for a long job (or a hidden page) a system notification where permitted.
   */
  jobChanged(before: JobSnapshot | undefined, after: JobSnapshot): void {
    if (!before || isFinished(before.status) || !isFinished(after.status)) return;
    if (!before.startedAt && before.status !== 'running') return; // taken off the queue unstarted
    const words = ENDED_WORDS[after.status] ?? after.status;
    const text = `${after.title}: ${words}${after.error ? ` — ${after.error.message}` : ''}`;
    this.toast(
      text,
      after.status === 'completed' ? 'ok' : after.status === 'failed' ? 'error' : 'info',
    );
    this.titleNote = `${after.status === 'completed' ? '✓' : after.status === 'failed' ? '✗' : '■'} ${after.title} ${words}`;
    const seconds = elapsedSeconds(after);
    const long = seconds !== null && seconds >= LONG_JOB_SECONDS;
    if (this.host && this.webNotifications() && (long || this.host.hidden())) {
      this.host.notify(`Patchwork: ${after.title} ${words}`, after.error?.message ?? '');
    }
  }
}

function elapsedSeconds(job: JobSnapshot): number | null {
  if (!job.startedAt || !job.finishedAt) return null;
  return (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
}
