/**
 * The drawing canvas: white ink on black with round strokes, driven by pointer events (mouse, pen and
 * touch alike; `touch-action: none` keeps a finger from scrolling the page). `ink()` reads the pixels
 * back as ink in [0, 1] for `toMnistInput`.
 */

/** Options for `DrawPad`. */
export interface DrawPadOptions {
  canvas: HTMLCanvasElement;
  /** Called while drawing (at most once per animation frame) and when a stroke ends. */
  onChange: (final: boolean) => void;
}

/** A canvas the user draws on. */
export class DrawPad {
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly onChange: (final: boolean) => void;
  private last: { x: number; y: number } | undefined;
  private frame = 0;

  constructor(o: DrawPadOptions) {
    this.canvas = o.canvas;
    const ctx = o.canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser has no 2D canvas');
    this.ctx = ctx;
    this.onChange = o.onChange;
    this.clear();
    o.canvas.addEventListener('pointerdown', (e) => this.down(e));
    o.canvas.addEventListener('pointermove', (e) => this.move(e));
    o.canvas.addEventListener('pointerup', (e) => this.up(e));
    o.canvas.addEventListener('pointercancel', (e) => this.up(e));
  }

  /** Wipes the canvas to black. */
  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Ink per pixel in [0, 1] (the red channel), row-major, canvas width × height. */
  ink(): { ink: Float32Array; width: number; height: number } {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const ink = new Float32Array(width * height);
    for (let i = 0; i < ink.length; i++) ink[i] = rgba[i * 4]! / 255;
    return { ink, width, height };
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / r.width, y: ((e.clientY - r.top) * this.canvas.height) / r.height };
  }

  private down(e: PointerEvent): void {
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.point(e);
    this.stroke(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (!this.last) return;
    const p = this.point(e);
    this.stroke(this.last, p);
    this.last = p;
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        if (this.last) this.onChange(false);
      });
    }
  }

  private up(e: PointerEvent): void {
    if (!this.last) return;
    this.stroke(this.last, this.point(e));
    this.last = undefined;
    this.onChange(true);
  }

  /** A round line of width 1/14 of the canvas: about two MNIST pixels once scaled into the 20-pixel box. */
  private stroke(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = this.canvas.width / 14;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x, b.y);
    c.stroke();
  }
}

/** Paints 784 values in [0, 1] onto a 28×28 canvas (the "what the model sees" preview). */
export function paintInput(canvas: HTMLCanvasElement, x: Float32Array | undefined): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round((x?.[i] ?? 0) * 255);
    img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = v;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
