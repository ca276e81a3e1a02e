/**
 * SVG chart of a worker sweep: for each target (switchyard workers 0/1/2...,
 * Kamailio), the highest call rate with 0 failed calls and its CPU per call
 * at a fixed rate, as two bar groups side by side. Plain SVG text, no
 * dependencies, readable in a browser or on GitHub.
 */

export interface SweepBar {
  /** e.g. "switchyard w0", "kamailio c2". */
  label: string;
  /** Highest 0-failure rate found by the ramp, calls/s (undefined: not measured). */
  maxRate: number | undefined;
  /** Proxy CPU per call at the fixed rate, ms (undefined: not measured). */
  cpuMsPerCall: number | undefined;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(x0: number, title: string, unit: string, bars: SweepBar[], value: (b: SweepBar) => number | undefined, fmt: (v: number) => string): string {
  const w = 380;
  const h = 260;
  const top = 40;
  const bottom = 60;
  const left = 50;
  const plotH = h - top - bottom;
  const vals = bars.map(value).filter((v): v is number => v !== undefined);
  const max = niceMax(Math.max(0, ...vals) * 1.1);
  const bw = Math.min(60, (w - left - 20) / Math.max(1, bars.length) - 14);
  const out: string[] = [];
  out.push(`<text x="${x0 + w / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    out.push(`<line x1="${x0 + left}" y1="${y}" x2="${x0 + w - 10}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + left - 6}" y="${y + 4}" text-anchor="end" font-size="10">${esc(fmt(v))}</text>`);
  }
  out.push(`<text x="${x0 + 12}" y="${top + plotH / 2}" font-size="10" transform="rotate(-90 ${x0 + 12} ${top + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`);
  bars.forEach((b, i) => {
    const v = value(b);
    const x = x0 + left + 10 + i * (bw + 14);
    const kam = b.label.toLowerCase().startsWith('kamailio');
    if (v !== undefined) {
      const bh = (plotH * v) / max;
      out.push(`<rect x="${x}" y="${top + plotH - bh}" width="${bw}" height="${bh}" fill="${kam ? '#c0504d' : '#4f81bd'}"/>`);
      out.push(`<text x="${x + bw / 2}" y="${top + plotH - bh - 4}" text-anchor="middle" font-size="10">${esc(fmt(v))}</text>`);
    }
    out.push(`<text x="${x + bw / 2}" y="${top + plotH + 14}" text-anchor="middle" font-size="10">${esc(b.label)}</text>`);
  });
  return out.join('\n');
}

/** The chart as an SVG document. */
export function sweepChartSvg(bars: SweepBar[], caption: string): string {
  const width = 800;
  const height = 300;
  const body = [
    panel(0, 'Highest rate with 0 failed calls', 'calls/s', bars, (b) => b.maxRate, (v) => String(Math.round(v))),
    panel(400, 'Proxy CPU per call', 'ms CPU per call', bars, (b) => b.cpuMsPerCall, (v) => v.toFixed(2)),
  ].join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    body,
    `<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="10" fill="#555">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
