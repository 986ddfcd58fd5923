/**
 * Hand-written SVG charts for bench/REPORT.md (no plotting dependency): grouped bars, stacked bars and line
 * charts, linear or log axes. Output is plain SVG 1.1 text that GitHub and browsers render.
 */

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#8c564b'];
const FONT = 'font-family="Helvetica,Arial,sans-serif"';

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return `${+v.toPrecision(3)}`;
  return `${+v.toPrecision(2)}`;
}

interface Axis {
  map(v: number): number;
  ticks: number[];
}

/** A value axis from `lo` to `hi` onto pixels [p0, p1] (p0 at lo); non-finite or empty ranges become [0, 1]. */
function axis(lo: number, hi: number, p0: number, p1: number, log: boolean): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= 0) [lo, hi] = [log ? 1 : 0, log ? 10 : 1];
  if (log) {
    const a = Math.floor(Math.log10(Math.max(lo, 1e-12)));
    const b = Math.ceil(Math.log10(Math.max(hi, lo * 10)));
    const span = Math.max(1, b - a);
    const ticks: number[] = [];
    for (let e = a; e <= b; e++) for (const m of span > 4 ? [1] : [1, 2, 5]) if (m * 10 ** e <= 10 ** b) ticks.push(m * 10 ** e);
    return { map: (v) => p0 + ((Math.log10(Math.max(v, 10 ** a)) - a) / span) * (p1 - p0), ticks };
  }
  const top = hi <= lo ? lo + 1 : hi;
  const raw = (top - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const end = Math.ceil(top / step) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= end + step / 2; v += step) ticks.push(+v.toPrecision(12));
  return { map: (v) => p0 + ((v - lo) / (end - lo)) * (p1 - p0), ticks };
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function header(f: Frame, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${f.width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
}

function yAxis(f: Frame, ax: Axis, label: string): string[] {
  const out: string[] = [];
  for (const t of ax.ticks) {
    const y = ax.map(t);
    if (y < f.top - 1 || y > f.height - f.bottom + 1) continue;
    out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  out.push(`<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.height - f.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${f.height - f.bottom}" y2="${f.height - f.bottom}" stroke="#333"/>`);
  const cy = (f.top + f.height - f.bottom) / 2;
  out.push(`<text x="14" y="${cy}" text-anchor="middle" transform="rotate(-90 14 ${cy})">${esc(label)}</text>`);
  return out;
}

function legend(f: Frame, names: string[], x0: number): string[] {
  const out: string[] = [];
  names.forEach((n, i) => {
    const y = f.top + 4 + i * 18;
    out.push(`<rect x="${x0}" y="${y}" width="12" height="12" fill="${color(i)}"/>`);
    out.push(`<text x="${x0 + 18}" y="${y + 10}">${esc(n)}</text>`);
  });
  return out;
}

export interface BarSeries {
  name: string;
  values: (number | null)[];
}

/** Grouped bars: one group per category, one bar per series (null: no bar). */
export function barChart(o: { title: string; yLabel: string; categories: string[]; series: BarSeries[]; log?: boolean; width?: number; height?: number }): string {
  const legendW = 170;
  const f: Frame = { width: o.width ?? Math.max(640, 90 + o.categories.length * (16 * o.series.length + 22) + legendW), height: o.height ?? 420, left: 70, right: legendW, top: 34, bottom: 120 };
  const vals = o.series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  const lo = o.log ? Math.min(...vals, 1) : 0;
  const hi = Math.max(...vals, 1e-9);
  const ax = axis(lo, hi, f.height - f.bottom, f.top, o.log ?? false);
  const out = header(f, o.title);
  out.push(...yAxis(f, ax, o.yLabel));
  const plotW = f.width - f.left - f.right;
  const groupW = plotW / Math.max(1, o.categories.length);
  const barW = Math.min(22, (groupW - 10) / Math.max(1, o.series.length));
  o.categories.forEach((c, i) => {
    const gx = f.left + i * groupW + (groupW - barW * o.series.length) / 2;
    o.series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined || !(v > 0)) return;
      const y = ax.map(v);
      const base = f.height - f.bottom;
      out.push(`<rect x="${(gx + j * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(0, base - y).toFixed(1)}" fill="${color(j)}"><title>${esc(`${c} / ${s.name}: ${fmtTick(v)}`)}</title></rect>`);
    });
    const lx = f.left + (i + 0.5) * groupW;
    const ly = f.height - f.bottom + 12;
    out.push(`<text x="${lx.toFixed(1)}" y="${ly}" text-anchor="end" transform="rotate(-35 ${lx.toFixed(1)} ${ly})">${esc(c)}</text>`);
  });
  out.push(...legend(f, o.series.map((s) => s.name), f.width - f.right + 16));
  out.push('</svg>');
  return out.join('\n');
}

/** Stacked bars: one bar per entry, one segment per named part (same name, same colour across bars). */
export function stackedBarChart(o: { title: string; yLabel: string; bars: { label: string; parts: { name: string; value: number }[] }[]; width?: number; height?: number }): string {
  const names = [...new Set(o.bars.flatMap((b) => b.parts.map((p) => p.name)))];
  const legendW = 200;
  const f: Frame = { width: o.width ?? Math.max(560, 110 + o.bars.length * 90 + legendW), height: o.height ?? Math.max(420, 60 + names.length * 18), left: 70, right: legendW, top: 34, bottom: 110 };
  const totals = o.bars.map((b) => b.parts.reduce((s, p) => s + p.value, 0));
  const ax = axis(0, Math.max(...totals, 1e-9), f.height - f.bottom, f.top, false);
  const out = header(f, o.title);
  out.push(...yAxis(f, ax, o.yLabel));
  const plotW = f.width - f.left - f.right;
  const slot = plotW / Math.max(1, o.bars.length);
  const barW = Math.min(60, slot * 0.6);
  o.bars.forEach((b, i) => {
    const x = f.left + i * slot + (slot - barW) / 2;
    let acc = 0;
    for (const p of b.parts) {
      if (!(p.value > 0)) continue;
      const y0 = ax.map(acc);
      const y1 = ax.map(acc + p.value);
      acc += p.value;
      out.push(`<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(0, y0 - y1).toFixed(1)}" fill="${color(names.indexOf(p.name))}" stroke="white" stroke-width="0.5"><title>${esc(`${b.label} / ${p.name}: ${fmtTick(p.value)}`)}</title></rect>`);
    }
    const lx = f.left + (i + 0.5) * slot;
    const ly = f.height - f.bottom + 12;
    out.push(`<text x="${lx.toFixed(1)}" y="${ly}" text-anchor="end" transform="rotate(-30 ${lx.toFixed(1)} ${ly})">${esc(b.label)}</text>`);
  });
  out.push(...legend(f, names, f.width - f.right + 16));
  out.push('</svg>');
  return out.join('\n');
}

export interface LineSeries {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** Palette index (default: the series' position). */
  colorIndex?: number;
}

/** Lines with markers; log axes where asked; a linear y axis starts at `yMin` (default 0). */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: LineSeries[]; logX?: boolean; logY?: boolean; yMin?: number; width?: number; height?: number }): string {
  const legendW = 210;
  const f: Frame = { width: o.width ?? 760, height: o.height ?? 420, left: 70, right: legendW, top: 34, bottom: 50 };
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const xAx = o.logX
    ? logX(Math.min(...xs), Math.max(...xs), f.left, f.width - f.right)
    : axis(0, Math.max(...xs, 1), f.left, f.width - f.right, false);
  const yAx = axis(o.logY ? Math.min(...ys, 1) : (o.yMin ?? 0), Math.max(...ys, 1e-9), f.height - f.bottom, f.top, o.logY ?? false);
  const out = header(f, o.title);
  out.push(...yAxis(f, yAx, o.yLabel));
  for (const t of xAx.ticks) {
    const x = xAx.map(t);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${f.height - f.bottom}" y2="${f.height - f.bottom + 4}" stroke="#333"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${f.height - f.bottom + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  out.push(`<text x="${(f.left + f.width - f.right) / 2}" y="${f.height - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  o.series.forEach((s, i) => {
    const c = color(s.colorIndex ?? i);
    const pts = s.points.filter((p) => !o.logY || p[1] > 0).map((p) => `${xAx.map(p[0]).toFixed(1)},${yAx.map(p[1]).toFixed(1)}`);
    if (pts.length > 1) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of pts) {
      const [x, y] = p.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${c}"/>`);
    }
  });
  const x0 = f.width - f.right + 16;
  o.series.forEach((s, i) => {
    const y = f.top + 4 + i * 18;
    out.push(`<line x1="${x0}" x2="${x0 + 16}" y1="${y + 6}" y2="${y + 6}" stroke="${color(s.colorIndex ?? i)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    out.push(`<text x="${x0 + 22}" y="${y + 10}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** A log x axis whose ticks are the powers of two in range (sequence lengths, batch sizes). */
function logX(lo: number, hi: number, p0: number, p1: number): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo <= 0) [lo, hi] = [1, 2];
  const a = Math.floor(Math.log2(Math.max(lo, 1e-9)));
  const b = Math.ceil(Math.log2(Math.max(hi, lo * 2)));
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) ticks.push(2 ** e);
  return { map: (v) => p0 + ((Math.log2(v) - a) / Math.max(1, b - a)) * (p1 - p0), ticks };
}
