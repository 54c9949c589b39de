/**
 * The Heatmaps view's state: a style and an image, opened once (the engine translates it),
 * then points of the output queried one after another. Only the answer to the latest click
 * is shown; an earlier one that arrives late is dropped.
 */
import type { HeatmapView, PatchworkApi } from '../../../../shared/ipc';
import { messageOf } from '../errors';

export class HeatmapState {
  styleId = $state('');
  image = $state('');
  view = $state<HeatmapView | null>(null);
  tap = $state('');
  opacity = $state(0.65);
  /** The last point asked about, in the full image's pixels. */
  point = $state<{ x: number; y: number } | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);
  private asked = 0;

  constructor(private readonly api: PatchworkApi) {}

  async open(): Promise<void> {
    this.busy = true;
    this.error = null;
    this.view = null;
    this.point = null;
    const ticket = ++this.asked;
    try {
      const view = await this.api.request('heatmap:open', {
        styleId: this.styleId,
        image: this.image.trim(),
      });
      if (ticket !== this.asked) return;
      this.view = view;
      if (!view.taps.includes(this.tap)) this.tap = view.taps[view.taps.length - 1] ?? '';
    } catch (err) {
      if (ticket === this.asked) this.error = messageOf(err);
    } finally {
      if (ticket === this.asked) this.busy = false;
    }
  }

  /** Asks for the heatmap of a point of the output (full-image pixels). */
  async query(x: number, y: number): Promise<void> {
    const view = this.view;
    if (!view) return;
    const point = {
      x: Math.max(0, Math.min(view.width - 1, Math.round(x))),
      y: Math.max(0, Math.min(view.height - 1, Math.round(y))),
    };
    this.point = point;
    this.busy = true;
    this.error = null;
    const ticket = ++this.asked;
    try {
      const answer = await this.api.request('heatmap:query', {
        styleId: this.styleId,
        image: this.image.trim(),
        ...point,
        ...(this.tap ? { tap: this.tap } : {}),
        opacity: this.opacity,
      });
      if (ticket === this.asked) this.view = answer;
    } catch (err) {
      if (ticket === this.asked) this.error = messageOf(err);
    } finally {
      if (ticket === this.asked) this.busy = false;
    }
  }

  /** Grid mode: N×N points of the output at once, one small map each. */
  async grid(n: number): Promise<void> {
    if (!this.view) return;
    this.busy = true;
    this.error = null;
    const ticket = ++this.asked;
    try {
      const answer = await this.api.request('heatmap:grid', {
        styleId: this.styleId,
        image: this.image.trim(),
        n,
        ...(this.tap ? { tap: this.tap } : {}),
        opacity: this.opacity,
      });
      if (ticket === this.asked) {
        this.view = answer;
        this.point = null;
      }
    } catch (err) {
      if (ticket === this.asked) this.error = messageOf(err);
    } finally {
      if (ticket === this.asked) this.busy = false;
    }
  }

  /** Moves the point by a fraction of the image (keyboard) and asks again. */
  async nudge(dx: number, dy: number): Promise<void> {
    const view = this.view;
    if (!view) return;
    const p = this.point ?? { x: view.width / 2, y: view.height / 2 };
    await this.query(p.x + dx * view.width, p.y + dy * view.height);
  }

  /** A new tap or opacity: the same point (or grid) again. */
  async refresh(): Promise<void> {
    if (this.point) await this.query(this.point.x, this.point.y);
    else if (this.view?.grid) await this.grid(this.view.grid.n);
  }
}
