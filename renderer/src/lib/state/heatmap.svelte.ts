/**
 * The Heatmaps view's state: a style and an image, opened once (the engine translates it),
 * then points of the output queried one after another. Only the answer to the latest click
 * is shown; an earlier one that arrives late is dropped.
 *
 * Hover follows the pointer over the output: one hover request in flight at a time, and when
 * it answers, the latest point the pointer reached since is asked next (points passed over in
 * between are never asked). A hover answer is shown unless something newer was shown or asked
 * explicitly meanwhile (a click, a key, a tap, a grid). A click pins its point: hover stops
 * asking until the pin is released (a second click on the pinned point, or Escape). In the
 * engine a query on an open session costs about 40–90 ms at the working size (the dot
 * product, the blend and the PNG; test/main/worker/heatmap-query-cost.test.ts), so hover asks
 * the same query a click does; only the first query of a tap takes seconds (its features).
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
  /** A clicked point holds the map until released; hover does not replace it. */
  pinned = $state(false);
  /** A hover request is in flight. */
  hovering = $state(false);
  /** Every request's number, in the order asked. */
  private asked = 0;
  /** The newest explicit request (open, click, key, tap, grid): older answers are stale. */
  private explicit = 0;
  /** The request whose answer is on screen. */
  private shown = 0;
  /** Where the pointer went while a hover request was in flight: asked next. */
  private pendingHover: { x: number; y: number } | null = null;

  constructor(private readonly api: PatchworkApi) {}

  async open(): Promise<void> {
    this.busy = true;
    this.error = null;
    this.view = null;
    this.point = null;
    this.pinned = false;
    this.pendingHover = null;
    const ticket = this.ticket();
    try {
      const view = await this.api.request('heatmap:open', {
        styleId: this.styleId,
        image: this.image.trim(),
      });
      if (ticket !== this.asked) return;
      this.shown = ticket;
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
    const point = this.clampPoint(x, y);
    if (!point) return;
    this.point = point;
    this.pendingHover = null;
    this.busy = true;
    this.error = null;
    const ticket = this.ticket();
    try {
      const answer = await this.ask(point);
      this.showIf(ticket, answer);
    } catch (err) {
      if (ticket === this.asked) this.error = messageOf(err);
    } finally {
      if (ticket === this.asked) this.busy = false;
    }
  }

  /** A click: pins that point (or, on the pinned point itself, releases the pin). */
  async pin(x: number, y: number): Promise<void> {
    const point = this.clampPoint(x, y);
    if (!point) return;
    const p = this.point;
    const view = this.view!;
    const near = Math.max(4, Math.round(Math.max(view.width, view.height) / 200));
    if (this.pinned && p && Math.abs(p.x - point.x) <= near && Math.abs(p.y - point.y) <= near) {
      this.pinned = false;
      return;
    }
    this.pinned = true;
    await this.query(point.x, point.y);
  }

  /** Releases a pinned point: hover follows the pointer again. */
  unpin(): void {
    this.pinned = false;
  }

  /**
   * The pointer is over this point of the output: asks for its map unless a point is pinned,
   * an explicit request is being worked on, or a hover request is in flight (then it is
   * remembered and asked when that one answers, unless the pointer moves on first).
   */
  hover(x: number, y: number): void {
    if (this.pinned || this.busy || this.view?.grid) return;
    const point = this.clampPoint(x, y);
    if (!point) return;
    const p = this.point;
    if (p && p.x === point.x && p.y === point.y) return;
    if (this.hovering) {
      this.pendingHover = point;
      return;
    }
    void this.hoverAsk(point);
  }

  private async hoverAsk(first: { x: number; y: number }): Promise<void> {
    this.hovering = true;
    let point: { x: number; y: number } | null = first;
    try {
      while (point && !this.pinned) {
        this.pendingHover = null;
        this.point = point;
        const ticket = ++this.asked;
        try {
          const answer = await this.ask(point);
          if (ticket > this.explicit && ticket > this.shown) this.showIf(ticket, answer, true);
        } catch (err) {
          if (ticket > this.explicit && ticket > this.shown) this.error = messageOf(err);
        }
        point = this.pendingHover;
      }
    } finally {
      this.pendingHover = null;
      this.hovering = false;
    }
  }

  private ask(point: { x: number; y: number }) {
    return this.api.request('heatmap:query', {
      styleId: this.styleId,
      image: this.image.trim(),
      ...point,
      ...(this.tap ? { tap: this.tap } : {}),
      opacity: this.opacity,
    });
  }

  /** A new explicit request: every answer asked before it is stale from now on. */
  private ticket(): number {
    this.explicit = ++this.asked;
    return this.explicit;
  }

  /** Shows an answer if it is the latest explicit one (or, for hover, newer than the screen). */
  private showIf(ticket: number, answer: HeatmapView, hover = false): void {
    if (!hover && ticket !== this.asked) return;
    if (hover && (ticket <= this.explicit || ticket <= this.shown)) return;
    this.shown = ticket;
    this.view = answer;
    this.error = null;
  }

  private clampPoint(x: number, y: number): { x: number; y: number } | null {
    const view = this.view;
    if (!view) return null;
    return {
      x: Math.max(0, Math.min(view.width - 1, Math.round(x))),
      y: Math.max(0, Math.min(view.height - 1, Math.round(y))),
    };
  }

  /** Grid mode: N×N points of the output at once, one small map each. */
  async grid(n: number): Promise<void> {
    if (!this.view) return;
    this.busy = true;
    this.error = null;
    this.pendingHover = null;
    const ticket = this.ticket();
    try {
      const answer = await this.api.request('heatmap:grid', {
        styleId: this.styleId,
        image: this.image.trim(),
        n,
        ...(this.tap ? { tap: this.tap } : {}),
        opacity: this.opacity,
      });
      if (ticket === this.asked) {
        this.shown = ticket;
        this.view = answer;
        this.point = null;
        this.pinned = false;
      }
    } catch (err) {
      if (ticket === this.asked) this.error = messageOf(err);
    } finally {
      if (ticket === this.asked) this.busy = false;
    }
  }

  /** Moves the point by a fraction of the image (keyboard), pins it there and asks again. */
  async nudge(dx: number, dy: number): Promise<void> {
    const view = this.view;
    if (!view) return;
    const p = this.point ?? { x: view.width / 2, y: view.height / 2 };
    this.pinned = true;
    await this.query(p.x + dx * view.width, p.y + dy * view.height);
  }

  /** A new tap or opacity: the same point (or grid) again. */
  async refresh(): Promise<void> {
    if (this.point) await this.query(this.point.x, this.point.y);
    else if (this.view?.grid) await this.grid(this.view.grid.n);
  }
}
