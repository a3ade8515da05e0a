/**
 * Export of the current view: the visible panels side by side as one standalone SVG (what the page shows,
 * without the invisible hover targets), or that SVG rendered to PNG at twice its size.
 */
import { SVG_NS } from './dom.js';

const GAP = 16;

/** One SVG document holding the given panel SVGs side by side. */
export function combinedSvg(panels: readonly SVGSVGElement[]): string {
  const sizes = panels.map((p) => p.viewBox.baseVal);
  const width = sizes.reduce((w, b) => w + b.width, 0) + GAP * Math.max(0, panels.length - 1);
  const height = Math.max(...sizes.map((b) => b.height));
  const root = document.createElementNS(SVG_NS, 'svg');
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(height));
  root.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const bg = document.createElementNS(SVG_NS, 'rect');
  for (const [k, v] of Object.entries({ x: 0, y: 0, width, height, fill: 'white' })) bg.setAttribute(k, String(v));
  root.append(bg);
  let x = 0;
  panels.forEach((p, i) => {
    const c = p.cloneNode(true) as SVGSVGElement;
    c.querySelectorAll('.hits').forEach((e) => e.remove());
    c.classList.remove('focus');
    c.querySelectorAll('.lit, .hover').forEach((e) => e.classList.remove('lit', 'hover'));
    c.setAttribute('x', String(x));
    c.setAttribute('y', '0');
    c.setAttribute('width', String(sizes[i]!.width));
    c.setAttribute('height', String(sizes[i]!.height));
    root.append(c);
    x += sizes[i]!.width + GAP;
  });
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(root);
}

export function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Renders SVG text to a PNG blob at `scale` times its size, on white. */
export async function svgToPng(svgText: string, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(img.naturalWidth * scale);
    canvas.height = Math.ceil(img.naturalHeight * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    ctx.fillStyle = 'white';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((ok, fail) => canvas.toBlob((b) => (b ? ok(b) : fail(new Error('PNG encoding failed'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}
