/**
 * Progress on stderr: a one-line bar with ETA redrawn in place when stderr is a TTY, one plain line per
 * generation otherwise (logs, CI), nothing with 'none'.
 */
import type { GenerationEvent, StartEvent, TuneResult } from '../tuning/loop.js';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatBytes(b: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = b;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

/** One plain line for a generation. */
export function generationLine(e: GenerationEvent, metric: string): string {
  const parts = [
    `gen ${e.generation}${Number.isFinite(e.totalGenerations) ? `/${e.totalGenerations}` : ''}`,
    `calls ${e.forwardCalls}/${e.budget}`,
    `loss ${e.loss.best.toFixed(4)} (mean ${e.loss.mean.toFixed(4)})`,
    `train-acc ${pct(e.train.accuracy)}`,
  ];
  if (e.dev) parts.push(`dev-${metric} ${pct(e.dev.metric)}${e.improved ? ' *' : ''}`);
  if (e.best?.dev) parts.push(`best ${pct(e.best.dev.metric)}@${e.best.generation}`);
  parts.push(`sigma ${e.sigma.toPrecision(3)}`);
  if (e.bytes !== undefined) parts.push(`${formatBytes(e.bytes)} ${e.rounds} rounds`);
  parts.push(`${formatDuration(e.elapsedMs)} eta ${formatDuration(e.etaMs)}`);
  return parts.join('  ');
}

export class Progress {
  private readonly mode: 'bar' | 'lines' | 'none';
  private drawn = false;

  /** Name of the selection metric in messages. */
  metric = 'acc';

  constructor(
    mode: ProgressMode,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.mode = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  }

  /** A message line (the bar is cleared first and redrawn by the next event). */
  log(line: string): void {
    if (this.mode === 'none') return;
    this.clear();
    this.stream.write(`${line}\n`);
  }

  start(e: StartEvent): void {
    const o = e.options;
    const what = e.resumed ? `resuming at generation ${e.generation}` : 'starting';
    this.log(
      `${what}: ${e.totalGenerations} generations of ${o.popsize} (budget ${o.budget}), d=${o.dim}, D=${e.promptDim}, ` +
        `loss ${o.loss}, seed ${o.seed}`,
    );
    if (e.initial) this.log(`initial prompt (z = 0): dev ${this.metric} ${pct(e.initial.metric)}, dev loss ${e.initial.loss.toFixed(4)}`);
  }

  generation(e: GenerationEvent): void {
    if (this.mode === 'none') return;
    if (this.mode === 'lines') {
      this.stream.write(`${generationLine(e, this.metric)}\n`);
      return;
    }
    const cols = Math.max(40, this.stream.columns ?? 100);
    const total = Number.isFinite(e.totalGenerations) ? e.totalGenerations : e.generation;
    const frac = Math.min(1, e.generation / Math.max(1, total));
    const info =
      ` ${e.generation}/${total} loss ${e.loss.best.toFixed(4)}` +
      (e.best?.dev ? ` best-dev ${pct(e.best.dev.metric)}` : '') +
      ` ${formatDuration(e.elapsedMs)} eta ${formatDuration(e.etaMs)}`;
    const width = Math.max(10, Math.min(40, cols - info.length - 3));
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    this.stream.write(`\r${bar}${info}`.slice(0, cols + 1).padEnd(cols - 1));
    this.drawn = true;
    if (e.dev) {
      // Keep dev evaluations in the scrollback.
      this.clear();
      this.stream.write(`${generationLine(e, this.metric)}\n`);
    }
  }

  done(_result: TuneResult): void {
    this.clear();
  }

  private clear(): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[2K');
      this.drawn = false;
    }
  }
}
