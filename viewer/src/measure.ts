/**
 * Text sizes for laying out SVG labels before they are in the page: widths from a canvas in the very font the
 * SVG names (the browser resolves both the same way), boxes and their overlaps, word wrapping and ellipses.
 */

/** The one font family of the viewer's SVG pictures. */
export const FONT_FAMILY = 'Helvetica, Arial, sans-serif';

let ctx: CanvasRenderingContext2D | null | undefined;

/** Width in pixels of `text` at `size` px (bold when asked). */
export function textWidth(text: string, size: number, bold = false): number {
  if (ctx === undefined) ctx = document.createElement('canvas').getContext('2d');
  if (ctx === null) return text.length * size * 0.6; // no canvas: a generous estimate for sans-serif
  ctx.font = `${bold ? 'bold ' : ''}${size}px ${FONT_FAMILY}`;
  return ctx.measureText(text).width;
}

/** An axis-aligned box in SVG user units. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** True when the boxes overlap by more than `gap` (negative gap: allowed to touch that much). */
export function intersects(a: Box, b: Box, gap = 0): boolean {
  return a.x < b.x + b.w + gap && b.x < a.x + a.w + gap && a.y < b.y + b.h + gap && b.y < a.y + a.h + gap;
}

/** True when `inner` lies inside `outer`. */
export function contains(outer: Box, inner: Box): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.w <= outer.x + outer.w && inner.y + inner.h <= outer.y + outer.h;
}

/**
 * The box of a text drawn at (x, baseline y) with the given anchor: from the ascent (0.95 em above the
 * baseline, a little more than Liberation Sans and DejaVu Sans reach) to the descent (0.25 em below).
 */
export function textBox(text: string, x: number, y: number, size: number, anchor: 'start' | 'middle' | 'end' = 'start', bold = false): Box {
  const w = textWidth(text, size, bold);
  const left = anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w;
  return { x: left, y: y - size * 0.95, w, h: size * 1.2 };
}

/** `text`, cut with an ellipsis to fit `max` pixels. */
export function fitText(text: string, size: number, max: number, bold = false): string {
  if (textWidth(text, size, bold) <= max) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(text.slice(0, mid) + '…', size, bold) <= max) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo).trimEnd() + '…';
}

/** `text` broken at spaces into lines of at most `max` pixels (a single over-long word is cut with an ellipsis). */
export function wrapText(text: string, size: number, max: number, bold = false): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, size, bold) > max) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.map((l) => fitText(l, size, max, bold));
}
