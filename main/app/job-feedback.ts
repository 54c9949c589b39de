/**
 * What the desktop shows outside the window while jobs run: the taskbar progress of the
 * training step, cleared when the job ends or pauses, and an OS notification when a job ends
 * (or pauses) while the window is not focused. Electron's objects are passed in, so the rules
 * are tested without Electron.
 */
import type { StudioEvent } from '../../shared/ipc';

export interface FeedbackWindow {
  isDestroyed(): boolean;
  isFocused(): boolean;
  setProgressBar(
    progress: number,
    options?: { mode: 'none' | 'normal' | 'indeterminate' | 'error' | 'paused' },
  ): void;
}

export interface Notifier {
  isSupported(): boolean;
  show(title: string, body: string): void;
}

const ENDED = new Set(['completed', 'failed', 'cancelled', 'paused']);
const WORDS: Record<string, string> = {
  completed: 'finished',
  failed: 'failed',
  cancelled: 'stopped',
  paused: 'paused',
};

export function jobFeedback(
  window: () => FeedbackWindow | null,
  notifier: Notifier,
): (event: StudioEvent) => void {
  return (e) => {
    const win = window();
    if (!win || win.isDestroyed()) return;
    if (e.type === 'train' && e.event.type === 'progress' && e.event.totalIterations) {
      win.setProgressBar(e.event.iteration / e.event.totalIterations);
    }
    if (e.type === 'job' && ENDED.has(e.job.status)) {
      win.setProgressBar(-1);
      if (notifier.isSupported() && !win.isFocused()) {
        notifier.show('Patchwork', `${e.job.title}: ${WORDS[e.job.status]}`);
      }
    }
  };
}
