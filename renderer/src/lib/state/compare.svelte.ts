/**
 * The before/after viewer's state: which pair is open, where the split is (0–100 % from
 * the left: before to the left, after to the right), the zoom (1–16×) and the pan (pixels of
 * the stage). Zooming keeps the point under the pointer where it is; panning never lets the
 * picture leave the stage. Both images are the services' previews (2048 px long side), so
 * even a 40-megapixel result stays smooth.
 */
export interface ComparePair {
  title: string;
  before: string;
  after: string;
}

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 16;
/** Long side of the previews the viewer loads. */
export const COMPARE_SIZE = 2048;

export class CompareState {
  pair = $state<ComparePair | null>(null);
  split = $state(50);
  zoom = $state(1);
  panX = $state(0);
  panY = $state(0);
  /** The stage's size in pixels, as last measured. */
  width = $state(0);
  height = $state(0);

  get transform(): string {
    return `translate(${this.panX}px, ${this.panY}px) scale(${this.zoom})`;
  }

  open(pair: ComparePair): void {
    this.pair = pair;
    this.split = 50;
    this.reset();
  }

  close(): void {
    this.pair = null;
  }

  reset(): void {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
  }

  setSplit(percent: number): void {
    this.split = Math.min(100, Math.max(0, percent));
  }

  /** Zooms by `factor` around the stage point (x, y) (default: its centre). */
  zoomBy(factor: number, x = this.width / 2, y = this.height / 2): void {
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const k = next / this.zoom;
    this.panX = x - (x - this.panX) * k;
    this.panY = y - (y - this.panY) * k;
    this.zoom = next;
    this.clamp();
  }

  panBy(dx: number, dy: number): void {
    this.panX += dx;
    this.panY += dy;
    this.clamp();
  }

  /** The zoomed picture always covers the stage: no empty margin beside it. */
  private clamp(): void {
    const minX = this.width - this.width * this.zoom;
    const minY = this.height - this.height * this.zoom;
    this.panX = Math.min(0, Math.max(minX, this.panX));
    this.panY = Math.min(0, Math.max(minY, this.panY));
  }
}
