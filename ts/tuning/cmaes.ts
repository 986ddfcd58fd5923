/**
 * CMA-ES, the derivative-free optimiser the data owner runs in the clear over the prompt
 * coordinates z (DESIGN.md §5: one generation = one batched MPC forward of the whole population).
 *
 * Follows N. Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772, 2016), Table 1 and
 * Fig. 6, with positive recombination weights only (mu = floor(lambda/2)), as in pycma's `purecma.py`:
 * weighted recombination, cumulative step-size adaptation with the h_sigma stall, rank-one plus rank-mu
 * covariance update, eigendecomposition postponed by lambda/(c1+cmu)/n/10 evaluations as in
 * Hansen's `cmaes.m` (every 1/(10 n (c1+cmu)) generations: O(n^2) work per evaluation).
 * Box bounds use pycma's BoundTransform (cma.transformations.BoxConstraintsLinQuadTransformation): the
 * search runs unconstrained in "genotype" space and every candidate is mapped into the box by a
 * piecewise linear/quadratic, periodically mirrored map that is the identity away from the bounds, so no
 * penalty weights need tuning and every evaluated point is feasible.
 * Optional IPOP restarts (Auger & Hansen, CEC 2005): on a local stop (tolFun/tolX) the strategy restarts
 * from x0 with sigma0 and the population multiplied by `incPopsize`.
 *
 * Everything is seeded by the caller; `state()` / `CMAES.fromState()` round-trip every bit that affects
 * the trajectory, so a killed run resumes exactly where it was.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

import { SecpError } from '../../bindings/errors.js';
import { Xoshiro128ss, type RngState } from './rng.js';

/** Default population size of the tutorial: 4 + floor(3 ln n). */
export function defaultPopsize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `dimension must be an integer >= 1, got ${String(n)}`);
  }
  return 4 + Math.floor(3 * Math.log(n));
}

/** Defaults of every tunable option, in one place (pycma's defaults where pycma has the option). */
export const CMAES_DEFAULTS = {
  maxFevals: Infinity,
  maxGenerations: Infinity,
  ftarget: -Infinity,
  tolFun: 1e-11,
  tolX: 1e-11,
  restarts: 0,
  incPopsize: 2,
} as const;

/** Condition number of C above which the run is declared numerically degenerate (pycma's tolconditioncov). */
export const MAX_CONDITION = 1e14;

export interface CMAESOptions {
  /** Initial mean; its length is the search dimension n. Must lie inside `bounds` when given. */
  x0: ArrayLike<number>;
  /** Initial step size (> 0): about a quarter of the range in which the optimum is expected. */
  sigma0: number;
  /** PRNG seed: a non-negative safe integer or a bigint in [0, 2^64). */
  seed: number | bigint;
  /** Population size lambda (>= 2); default 4 + floor(3 ln n). */
  popsize?: number;
  /** Box [lower, upper] applied to every coordinate; default unbounded. */
  bounds?: readonly [number, number];
  /** Stop once this many evaluations are used (integer >= 1 or Infinity). */
  maxFevals?: number;
  /** Stop after this many generations, all restarts together (integer >= 1 or Infinity). */
  maxGenerations?: number;
  /** Stop once a fitness <= ftarget has been told; default -Infinity (off). */
  ftarget?: number;
  /** Stop when the recent fitness range (this and the last 10 + ceil(30 n / lambda) generations' best) is below this. */
  tolFun?: number;
  /** Stop when sigma * max(|pc_i|, sqrt(C_ii)) is below this in every coordinate. */
  tolX?: number;
  /** IPOP restarts after a tolFun/tolX stop (integer >= 0); default 0 (off). */
  restarts?: number;
  /** Population factor per IPOP restart (> 1); default 2. */
  incPopsize?: number;
}

/** Options after validation and defaulting; JSON-safe (Infinity limits are `null`). */
export interface CMAESResolvedOptions {
  x0: number[];
  sigma0: number;
  /** Decimal string so a bigint seed survives JSON. */
  seed: string;
  popsize: number;
  bounds: [number, number] | null;
  maxFevals: number | null;
  maxGenerations: number | null;
  ftarget: number | null;
  tolFun: number;
  tolX: number;
  restarts: number;
  incPopsize: number;
}

/** Plain JSON-serialisable snapshot of a run; `CMAES.fromState` continues it bit-identically. */
export interface CMAESState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  options: CMAESResolvedOptions;
  /** Current population size (differs from options.popsize after IPOP restarts). */
  popsize: number;
  restartsDone: number;
  generation: number;
  fevals: number;
  /** Generations and evaluations since the last (re)start. */
  localGeneration: number;
  localFevals: number;
  /** localFevals at the last eigendecomposition. */
  eigenFevals: number;
  /** Genotype-space mean. */
  mean: number[];
  sigma: number;
  /** Covariance matrix, row-major n*n. */
  C: number[];
  /** Eigenvectors of C at the last decomposition, row-major n*n (column j is eigenvector j). */
  B: number[];
  /** Square roots of the eigenvalues at the last decomposition. */
  D: number[];
  pc: number[];
  ps: number[];
  /** Best-of-generation fitnesses of the recent generations (tolFun window), oldest first. */
  fHistory: number[];
  /** Fitness range of the last told generation, or null before the first tell of a (re)start. */
  lastRange: number | null;
  best: { x: number[]; f: number } | null;
  /** The population handed out by ask() and not yet told, if any. */
  pending: { genotypes: number[][]; phenotypes: number[][] } | null;
  rng: RngState;
}

const STATE_FORMAT = 'secp-tuning/cmaes' as const;
const STATE_VERSION = 1 as const;

/** Best evaluated solution so far. */
export interface CMAESBest {
  x: Float64Array;
  f: number;
}

/** Strategy parameters derived from (n, lambda), Hansen 2016 Table 1 with positive weights only. */
interface Params {
  lambda: number;
  mu: number;
  weights: Float64Array;
  mueff: number;
  cc: number;
  cs: number;
  c1: number;
  cmu: number;
  damps: number;
  chiN: number;
  eigenGapFevals: number;
  historyLength: number;
}

function strategyParams(n: number, lambda: number): Params {
  const mu = Math.floor(lambda / 2);
  const weights = new Float64Array(mu);
  let sum = 0;
  for (let i = 0; i < mu; i++) {
    weights[i] = Math.log((lambda + 1) / 2) - Math.log(i + 1);
    sum += weights[i]!;
  }
  let sumSq = 0;
  for (let i = 0; i < mu; i++) {
    weights[i]! /= sum;
    sumSq += weights[i]! * weights[i]!;
  }
  const mueff = 1 / sumSq;
  const cc = (4 + mueff / n) / (n + 4 + (2 * mueff) / n);
  const cs = (mueff + 2) / (n + mueff + 5);
  const c1 = 2 / ((n + 1.3) ** 2 + mueff);
  const cmu = Math.min(1 - c1, (2 * (mueff - 2 + 1 / mueff)) / ((n + 2) ** 2 + mueff));
  const damps = 1 + 2 * Math.max(0, Math.sqrt((mueff - 1) / (n + 1)) - 1) + cs;
  const chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
  return {
    lambda,
    mu,
    weights,
    mueff,
    cc,
    cs,
    c1,
    cmu,
    damps,
    chiN,
    eigenGapFevals: lambda / (c1 + cmu) / n / 10,
    historyLength: 10 + Math.ceil((30 * n) / lambda),
  };
}

/**
 * pycma's BoxConstraintsLinQuadTransformation for one interval [lb, ub], applied per coordinate.
 * Identity on [lb + al, ub - au]; quadratic in the margins so the map is C^1; values beyond are first
 * mirrored / shifted by the period 2 (ub - lb + al + au) into [lb - al, ub + au].
 */
export class BoxTransform {
  readonly lb: number;
  readonly ub: number;
  private readonly al: number;
  private readonly au: number;

  constructor(lb: number, ub: number) {
    this.lb = lb;
    this.ub = ub;
    this.al = Math.min((ub - lb) / 2, (1 + Math.abs(lb)) / 20);
    this.au = Math.min((ub - lb) / 2, (1 + Math.abs(ub)) / 20);
  }

  /** Maps any finite genotype value into [lb, ub]. */
  transform(x: number): number {
    const { lb, ub, al, au } = this;
    if (x < lb - 2 * al - (ub - lb) / 2 || x > ub + 2 * au + (ub - lb) / 2) {
      const r = 2 * (ub - lb + al + au);
      const s = lb - 2 * al - (ub - lb) / 2;
      x -= r * Math.floor((x - s) / r);
    }
    if (x > ub + au) x -= 2 * (x - ub - au);
    if (x < lb - al) x += 2 * (lb - al - x);
    if (x < lb + al) return lb + (x - (lb - al)) ** 2 / 4 / al;
    if (x > ub - au) return ub - (x - (ub + au)) ** 2 / 4 / au;
    return x;
  }

  /** A genotype in [lb - al, ub + au] that `transform` maps to y (y must lie in [lb, ub]). */
  inverse(y: number): number {
    const { lb, ub, al, au } = this;
    if (y < lb + al) return lb - al + 2 * Math.sqrt(al * (y - lb));
    if (y > ub - au) return ub + au - 2 * Math.sqrt(au * (ub - y));
    return y;
  }
}

const OPTION_KEYS = new Set<string>([
  'x0',
  'sigma0',
  'seed',
  'popsize',
  'bounds',
  'maxFevals',
  'maxGenerations',
  'ftarget',
  'tolFun',
  'tolX',
  'restarts',
  'incPopsize',
]);

function invalid(message: string): SecpError {
  return new SecpError('ERR_INVALID_ARGUMENT', message);
}

function numerical(message: string): SecpError {
  return new SecpError('ERR_CMAES_NUMERICAL', message);
}

function limitOption(name: string, v: unknown): number | null {
  if (v === undefined || v === Infinity) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw invalid(`${name} must be an integer >= 1 or Infinity, got ${String(v)}`);
  }
  return v;
}

function toleranceOption(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw invalid(`${name} must be a finite number >= 0, got ${String(v)}`);
  }
  return v;
}

/** Validates and defaults user options once; every message names the option and the accepted range. */
function resolveOptions(opts: CMAESOptions): CMAESResolvedOptions {
  if (opts === null || typeof opts !== 'object') throw invalid('CMAES options must be an object');
  for (const key of Object.keys(opts)) {
    if (!OPTION_KEYS.has(key)) {
      throw invalid(`unknown CMAES option '${key}'; accepted: ${[...OPTION_KEYS].join(', ')}`);
    }
  }
  const x0raw = opts.x0 as unknown;
  if (
    x0raw === null ||
    typeof x0raw !== 'object' ||
    typeof (x0raw as ArrayLike<number>).length !== 'number' ||
    (x0raw as ArrayLike<number>).length < 1
  ) {
    throw invalid('x0 must be a non-empty array or Float64Array of finite numbers');
  }
  const x0 = Array.from(x0raw as ArrayLike<unknown>, (v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`x0[${i}] must be a finite number, got ${String(v)}`);
    return v;
  });
  const n = x0.length;
  const { sigma0 } = opts;
  if (typeof sigma0 !== 'number' || !Number.isFinite(sigma0) || sigma0 <= 0) {
    throw invalid(`sigma0 must be a finite number > 0, got ${String(sigma0)}`);
  }
  const seed = opts.seed as unknown;
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed >= 1n << 64n) throw invalid(`seed must be a bigint in [0, 2^64), got ${seed}`);
  } else if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw invalid(`seed must be a non-negative safe integer or a bigint in [0, 2^64), got ${String(seed)}`);
  }
  let popsize = defaultPopsize(n);
  if (opts.popsize !== undefined) {
    if (!Number.isSafeInteger(opts.popsize) || opts.popsize < 2) {
      throw invalid(`popsize must be an integer >= 2, got ${String(opts.popsize)}`);
    }
    popsize = opts.popsize;
  }
  let bounds: [number, number] | null = null;
  if (opts.bounds !== undefined) {
    const b = opts.bounds as unknown;
    if (
      !Array.isArray(b) ||
      b.length !== 2 ||
      typeof b[0] !== 'number' ||
      typeof b[1] !== 'number' ||
      !Number.isFinite(b[0]) ||
      !Number.isFinite(b[1]) ||
      !(b[0] < b[1])
    ) {
      throw invalid(`bounds must be [lower, upper] with finite lower < upper, got ${JSON.stringify(b)}`);
    }
    bounds = [b[0], b[1]];
    for (let i = 0; i < n; i++) {
      if (x0[i]! < bounds[0] || x0[i]! > bounds[1]) {
        throw invalid(`x0[${i}] = ${x0[i]} must lie within bounds [${bounds[0]}, ${bounds[1]}]`);
      }
    }
  }
  let ftarget: number | null = null;
  if (opts.ftarget !== undefined && opts.ftarget !== -Infinity) {
    if (typeof opts.ftarget !== 'number' || !Number.isFinite(opts.ftarget)) {
      throw invalid(`ftarget must be a finite number or -Infinity, got ${String(opts.ftarget)}`);
    }
    ftarget = opts.ftarget;
  }
  let restarts: number = CMAES_DEFAULTS.restarts;
  if (opts.restarts !== undefined) {
    if (!Number.isSafeInteger(opts.restarts) || opts.restarts < 0) {
      throw invalid(`restarts must be an integer >= 0, got ${String(opts.restarts)}`);
    }
    restarts = opts.restarts;
  }
  let incPopsize: number = CMAES_DEFAULTS.incPopsize;
  if (opts.incPopsize !== undefined) {
    if (typeof opts.incPopsize !== 'number' || !Number.isFinite(opts.incPopsize) || opts.incPopsize <= 1) {
      throw invalid(`incPopsize must be a finite number > 1, got ${String(opts.incPopsize)}`);
    }
    incPopsize = opts.incPopsize;
  }
  return {
    x0,
    sigma0,
    seed: String(seed),
    popsize,
    bounds,
    maxFevals: limitOption('maxFevals', opts.maxFevals),
    maxGenerations: limitOption('maxGenerations', opts.maxGenerations),
    ftarget,
    tolFun: toleranceOption('tolFun', opts.tolFun, CMAES_DEFAULTS.tolFun),
    tolX: toleranceOption('tolX', opts.tolX, CMAES_DEFAULTS.tolX),
    restarts,
    incPopsize,
  };
}

function allFinite(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/** Eigendecomposition of the symmetric, row-major C; throws ERR_CMAES_NUMERICAL if C is not well-conditioned PD. */
function decompose(C: Float64Array, n: number): { B: Float64Array; D: Float64Array } {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(C.subarray(i * n, (i + 1) * n)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const ev = evd.realEigenvalues;
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of ev) {
    if (!Number.isFinite(e)) throw numerical('covariance matrix has a non-finite eigenvalue');
    if (e < lo) lo = e;
    if (e > hi) hi = e;
  }
  if (!(lo > 0)) throw numerical(`covariance matrix is not positive definite (smallest eigenvalue ${lo})`);
  if (hi / lo > MAX_CONDITION) {
    throw numerical(`covariance matrix condition number ${(hi / lo).toExponential(2)} exceeds ${MAX_CONDITION.toExponential(0)}`);
  }
  const V = evd.eigenvectorMatrix;
  const B = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) B[i * n + j] = V.get(i, j);
  if (!allFinite(B)) throw numerical('covariance eigenvectors are not finite');
  return { B, D: Float64Array.from(ev, Math.sqrt) };
}

/**
 * Ask/tell CMA-ES (minimisation). `ask()` returns the whole population, `tell()` takes it back with
 * its fitnesses; `stop()` lists the termination reasons that hold.
 */
export class CMAES {
  /** Search dimension. */
  readonly dimension: number;
  /** The validated options the run was started with. */
  readonly options: Readonly<CMAESResolvedOptions>;

  private readonly bound: BoxTransform | null;
  private p: Params;
  private rng: Xoshiro128ss;
  private restartsDone = 0;
  private gen = 0;
  private evals = 0;
  private localGen = 0;
  private localEvals = 0;
  private eigenEvals = 0;
  private m: Float64Array;
  private sig: number;
  private C: Float64Array;
  private B: Float64Array;
  private D: Float64Array;
  private pc: Float64Array;
  private ps: Float64Array;
  private fHistory: number[] = [];
  private lastRange: number | null = null;
  private bestX: Float64Array | null = null;
  private bestF = Infinity;
  private pending: { genotypes: Float64Array[]; phenotypes: Float64Array[] } | null = null;

  constructor(options: CMAESOptions) {
    const o = resolveOptions(options);
    this.options = Object.freeze(o);
    this.dimension = o.x0.length;
    this.bound = o.bounds ? new BoxTransform(o.bounds[0], o.bounds[1]) : null;
    this.rng = new Xoshiro128ss(BigInt(o.seed));
    const n = this.dimension;
    this.p = strategyParams(n, o.popsize);
    this.m = new Float64Array(n);
    this.sig = 0;
    this.C = new Float64Array(n * n);
    this.B = new Float64Array(n * n);
    this.D = new Float64Array(n);
    this.pc = new Float64Array(n);
    this.ps = new Float64Array(n);
    this.resetDistribution();
  }

  /** Restores a run from `state()` output (e.g. after JSON round-trip); validates shape and values. */
  static fromState(state: unknown): CMAES {
    const st = state as CMAESState;
    if (st === null || typeof st !== 'object' || st.format !== STATE_FORMAT || st.version !== STATE_VERSION) {
      throw invalid(`CMAES state must be an object with format '${STATE_FORMAT}' and version ${STATE_VERSION}`);
    }
    const o = st.options;
    if (o === null || typeof o !== 'object') throw invalid('CMAES state.options is missing');
    if (typeof o.seed !== 'string' || !/^\d+$/.test(o.seed)) {
      throw invalid('CMAES state.options.seed must be a decimal string');
    }
    const es = new CMAES({
      x0: o.x0,
      sigma0: o.sigma0,
      seed: BigInt(o.seed),
      popsize: o.popsize,
      ...(o.bounds ? { bounds: o.bounds } : {}),
      maxFevals: o.maxFevals ?? Infinity,
      maxGenerations: o.maxGenerations ?? Infinity,
      ftarget: o.ftarget ?? -Infinity,
      tolFun: o.tolFun,
      tolX: o.tolX,
      restarts: o.restarts,
      incPopsize: o.incPopsize,
    });
    const n = es.dimension;
    const count = (name: string, v: unknown, min = 0): number => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
        throw invalid(`CMAES state.${name} must be an integer >= ${min}, got ${String(v)}`);
      }
      return v;
    };
    const vec = (name: string, v: unknown, len: number): Float64Array => {
      if (!Array.isArray(v) || v.length !== len || !v.every((e) => typeof e === 'number' && Number.isFinite(e))) {
        throw invalid(`CMAES state.${name} must be an array of ${len} finite numbers`);
      }
      return Float64Array.from(v as number[]);
    };
    const popsize = count('popsize', st.popsize, 2);
    es.p = strategyParams(n, popsize);
    es.restartsDone = count('restartsDone', st.restartsDone);
    es.gen = count('generation', st.generation);
    es.evals = count('fevals', st.fevals);
    es.localGen = count('localGeneration', st.localGeneration);
    es.localEvals = count('localFevals', st.localFevals);
    es.eigenEvals = count('eigenFevals', st.eigenFevals);
    es.m = vec('mean', st.mean, n);
    if (typeof st.sigma !== 'number' || !Number.isFinite(st.sigma) || st.sigma <= 0) {
      throw invalid('CMAES state.sigma must be a finite number > 0');
    }
    es.sig = st.sigma;
    es.C = vec('C', st.C, n * n);
    es.B = vec('B', st.B, n * n);
    es.D = vec('D', st.D, n);
    if (!es.D.every((d) => d > 0)) throw invalid('CMAES state.D must hold positive numbers');
    if (es.eigenEvals > es.localEvals || es.localEvals > es.evals || es.localGen > es.gen) {
      throw invalid('CMAES state counters are inconsistent (need eigenFevals <= localFevals <= fevals, localGeneration <= generation)');
    }
    es.pc = vec('pc', st.pc, n);
    es.ps = vec('ps', st.ps, n);
    if (!Array.isArray(st.fHistory) || st.fHistory.length > es.p.historyLength) {
      throw invalid(`CMAES state.fHistory must be an array of at most ${es.p.historyLength} numbers`);
    }
    es.fHistory = Array.from(vec('fHistory', st.fHistory, st.fHistory.length));
    if (st.lastRange !== null && (typeof st.lastRange !== 'number' || !Number.isFinite(st.lastRange))) {
      throw invalid('CMAES state.lastRange must be a finite number or null');
    }
    es.lastRange = st.lastRange;
    if (st.best === null) {
      es.bestX = null;
      es.bestF = Infinity;
    } else {
      if (typeof st.best !== 'object' || typeof st.best.f !== 'number' || !Number.isFinite(st.best.f)) {
        throw invalid('CMAES state.best must be null or {x, f} with finite f');
      }
      es.bestX = vec('best.x', st.best.x, n);
      es.bestF = st.best.f;
    }
    if (st.pending === null) {
      es.pending = null;
    } else {
      const pend = st.pending;
      if (
        typeof pend !== 'object' ||
        !Array.isArray(pend.genotypes) ||
        !Array.isArray(pend.phenotypes) ||
        pend.genotypes.length !== popsize ||
        pend.phenotypes.length !== popsize
      ) {
        throw invalid(`CMAES state.pending must be null or hold ${popsize} genotypes and phenotypes`);
      }
      es.pending = {
        genotypes: pend.genotypes.map((g, k) => vec(`pending.genotypes[${k}]`, g, n)),
        phenotypes: pend.phenotypes.map((x, k) => vec(`pending.phenotypes[${k}]`, x, n)),
      };
    }
    es.rng = Xoshiro128ss.fromState(st.rng);
    return es;
  }

  /** Full snapshot as a plain JSON-serialisable object. */
  state(): CMAESState {
    return {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      options: {
        ...this.options,
        x0: [...this.options.x0],
        bounds: this.options.bounds ? [this.options.bounds[0], this.options.bounds[1]] : null,
      },
      popsize: this.p.lambda,
      restartsDone: this.restartsDone,
      generation: this.gen,
      fevals: this.evals,
      localGeneration: this.localGen,
      localFevals: this.localEvals,
      eigenFevals: this.eigenEvals,
      mean: Array.from(this.m),
      sigma: this.sig,
      C: Array.from(this.C),
      B: Array.from(this.B),
      D: Array.from(this.D),
      pc: Array.from(this.pc),
      ps: Array.from(this.ps),
      fHistory: [...this.fHistory],
      lastRange: this.lastRange,
      best: this.bestX ? { x: Array.from(this.bestX), f: this.bestF } : null,
      pending: this.pending
        ? {
            genotypes: this.pending.genotypes.map((g) => Array.from(g)),
            phenotypes: this.pending.phenotypes.map((x) => Array.from(x)),
          }
        : null,
      rng: this.rng.state(),
    };
  }

  /** Current population size lambda (grows with IPOP restarts). */
  get popsize(): number {
    return this.p.lambda;
  }

  /** Generations told so far, all restarts together. */
  get generation(): number {
    return this.gen;
  }

  /** Fitness evaluations told so far, all restarts together. */
  get fevals(): number {
    return this.evals;
  }

  /** IPOP restarts performed so far. */
  get restartCount(): number {
    return this.restartsDone;
  }

  /** Current step size sigma. */
  get sigma(): number {
    return this.sig;
  }

  /** Distribution mean mapped into the bounds (a copy); the favourite solution when f is noisy. */
  get mean(): Float64Array {
    return this.phenotype(this.m);
  }

  /** Best evaluated solution so far (a copy), or null before the first tell. */
  get best(): CMAESBest | null {
    return this.bestX ? { x: Float64Array.from(this.bestX), f: this.bestF } : null;
  }

  /**
   * Samples the population: x_k = m + sigma B D z_k, z_k ~ N(0, I), mapped into the bounds if any.
   * Returns fresh copies; until tell() is called, further asks return the same population again.
   */
  ask(): Float64Array[] {
    if (!this.pending) {
      const n = this.dimension;
      const { B, D, m, sig } = this;
      const genotypes: Float64Array[] = [];
      const phenotypes: Float64Array[] = [];
      const dz = new Float64Array(n);
      const rngBefore = this.rng.state();
      for (let k = 0; k < this.p.lambda; k++) {
        for (let j = 0; j < n; j++) dz[j] = D[j]! * this.rng.nextGaussian();
        const g = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let y = 0;
          const row = i * n;
          for (let j = 0; j < n; j++) y += B[row + j]! * dz[j]!;
          g[i] = m[i]! + sig * y;
        }
        if (!allFinite(g)) {
          this.rng = Xoshiro128ss.fromState(rngBefore);
          throw numerical(`ask(): candidate ${k} is not finite (sigma = ${sig}, max axis ${Math.max(...D)})`);
        }
        genotypes.push(g);
        phenotypes.push(this.phenotype(g));
      }
      this.pending = { genotypes, phenotypes };
    }
    return this.pending.phenotypes.map((x) => Float64Array.from(x));
  }

  /**
   * Updates the distribution from the population of the last ask() (same order, unchanged values)
   * and its fitnesses (to be minimised). Atomic: if it throws, the state is unchanged and the
   * population is still pending.
   */
  tell(xs: ReadonlyArray<ArrayLike<number>>, fitnesses: ArrayLike<number>): void {
    const pend = this.pending;
    if (!pend) throw invalid('tell() called without a pending population; call ask() first');
    const n = this.dimension;
    const { lambda, mu, weights, mueff, cc, cs, c1, cmu, damps, chiN } = this.p;
    if (!Array.isArray(xs) || xs.length !== lambda) {
      throw invalid(`tell(): xs must hold the ${lambda} solutions of the last ask(), got ${Array.isArray(xs) ? xs.length : typeof xs}`);
    }
    if (fitnesses === null || typeof fitnesses !== 'object' || fitnesses.length !== lambda) {
      throw invalid(`tell(): fitnesses must hold ${lambda} numbers`);
    }
    for (let k = 0; k < lambda; k++) {
      const x = xs[k];
      const asked = pend.phenotypes[k]!;
      if (!x || x.length !== n) throw invalid(`tell(): xs[${k}] must have dimension ${n}`);
      for (let i = 0; i < n; i++) {
        if (!Object.is(x[i], asked[i])) {
          throw invalid(`tell(): xs[${k}] differs from the solution ask() returned at index ${k} (coordinate ${i})`);
        }
      }
      const f = fitnesses[k];
      if (typeof f !== 'number' || !Number.isFinite(f)) {
        throw numerical(`tell(): fitness of solution ${k} is ${String(f)}; fitness values must be finite`);
      }
    }

    const order = Array.from({ length: lambda }, (_, k) => k).sort(
      (a, b) => fitnesses[a]! - fitnesses[b]! || a - b,
    );
    const sig = this.sig;
    const mOld = this.m;

    // y_i = (g_{i:lambda} - m) / sigma for the mu best; yw is their weighted mean.
    const ys: Float64Array[] = [];
    const yw = new Float64Array(n);
    for (let i = 0; i < mu; i++) {
      const g = pend.genotypes[order[i]!]!;
      const y = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        y[j] = (g[j]! - mOld[j]!) / sig;
        yw[j]! += weights[i]! * y[j]!;
      }
      ys.push(y);
    }
    const m = new Float64Array(n);
    for (let j = 0; j < n; j++) m[j] = mOld[j]! + sig * yw[j]!;

    // C^{-1/2} yw = B D^{-1} B^T yw with the (possibly stale) last decomposition, as in the tutorial.
    const { B, D } = this;
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const yi = yw[i]!;
      const row = i * n;
      for (let j = 0; j < n; j++) t[j]! += B[row + j]! * yi;
    }
    for (let j = 0; j < n; j++) t[j]! /= D[j]!;
    const ps = new Float64Array(n);
    const csn = Math.sqrt(cs * (2 - cs) * mueff);
    let psNormSq = 0;
    for (let i = 0; i < n; i++) {
      let v = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) v += B[row + j]! * t[j]!;
      ps[i] = (1 - cs) * this.ps[i]! + csn * v;
      psNormSq += ps[i]! * ps[i]!;
    }
    const psNorm = Math.sqrt(psNormSq);
    const localGen = this.localGen + 1;
    // h_sigma stalls the rank-one path while ||ps|| is large, i.e. while sigma is still growing.
    const hsig = psNorm / Math.sqrt(1 - (1 - cs) ** (2 * localGen)) < (1.4 + 2 / (n + 1)) * chiN ? 1 : 0;
    const pc = new Float64Array(n);
    const ccn = hsig * Math.sqrt(cc * (2 - cc) * mueff);
    for (let i = 0; i < n; i++) pc[i] = (1 - cc) * this.pc[i]! + ccn * yw[i]!;

    // C <- (1 - c1 - cmu + c1 (1 - hsig) cc (2 - cc)) C + c1 pc pc^T + cmu sum_i w_i y_i y_i^T (sum w = 1).
    const decay = 1 - c1 - cmu + c1 * (1 - hsig) * cc * (2 - cc);
    const C = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      const row = i * n;
      const c1pci = c1 * pc[i]!;
      for (let j = i; j < n; j++) C[row + j] = decay * this.C[row + j]! + c1pci * pc[j]!;
    }
    for (let k = 0; k < mu; k++) {
      const y = ys[k]!;
      const wk = cmu * weights[k]!;
      for (let i = 0; i < n; i++) {
        const row = i * n;
        const wyi = wk * y[i]!;
        for (let j = i; j < n; j++) C[row + j]! += wyi * y[j]!;
      }
    }
    // Mirror the upper triangle: C stays exactly symmetric, as the eigensolver assumes.
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) C[j * n + i] = C[i * n + j]!;

    // CSA; the exponent is capped at 1 as in purecma to survive a wildly off sigma0.
    const sigma = sig * Math.exp(Math.min(1, (cs / damps) * (psNorm / chiN - 1)));

    if (!allFinite(m)) throw numerical('distribution mean became non-finite');
    if (!Number.isFinite(sigma) || !(sigma > 0)) throw numerical(`step size sigma became ${sigma}`);
    if (!allFinite(ps) || !allFinite(pc)) throw numerical('evolution paths became non-finite');
    for (let i = 0; i < n; i++) {
      const cii = C[i * n + i]!;
      if (!Number.isFinite(cii) || !(cii > 0)) throw numerical(`covariance diagonal C[${i}][${i}] became ${cii}`);
    }
    const localEvals = this.localEvals + lambda;
    let eig: { B: Float64Array; D: Float64Array } | null = null;
    if (localEvals - this.eigenEvals > this.p.eigenGapFevals) {
      if (!allFinite(C)) throw numerical('covariance matrix became non-finite');
      eig = decompose(C, n);
    }

    // Commit: nothing above mutated the instance.
    const genBestK = order[0]!;
    const fBest = fitnesses[genBestK]!;
    const fWorst = fitnesses[order[lambda - 1]!]!;
    if (fBest < this.bestF) {
      this.bestF = fBest;
      this.bestX = Float64Array.from(pend.phenotypes[genBestK]!);
    }
    this.m = m;
    this.sig = sigma;
    this.ps = ps;
    this.pc = pc;
    this.C = C;
    if (eig) {
      this.B = eig.B;
      this.D = eig.D;
      this.eigenEvals = localEvals;
    }
    this.gen += 1;
    this.evals += lambda;
    this.localGen = localGen;
    this.localEvals = localEvals;
    this.fHistory.push(fBest);
    if (this.fHistory.length > this.p.historyLength) this.fHistory.shift();
    this.lastRange = fWorst - fBest;
    this.pending = null;

    if (this.restartsDone < this.options.restarts && this.globalStops().length === 0 && this.localStops().length > 0) {
      this.restartsDone += 1;
      this.p = strategyParams(n, Math.round(this.p.lambda * this.options.incPopsize));
      this.resetDistribution();
    }
  }

  /** Termination reasons that currently hold (empty while the run should continue). */
  stop(): string[] {
    return [...this.globalStops(), ...this.localStops()];
  }

  private globalStops(): string[] {
    const o = this.options;
    const reasons: string[] = [];
    if (o.maxFevals !== null && this.evals >= o.maxFevals) reasons.push('maxFevals');
    if (o.maxGenerations !== null && this.gen >= o.maxGenerations) reasons.push('maxGenerations');
    if (o.ftarget !== null && this.bestF <= o.ftarget) reasons.push('ftarget');
    return reasons;
  }

  private localStops(): string[] {
    if (this.localGen === 0 || this.lastRange === null) return [];
    const reasons: string[] = [];
    let lo = Infinity;
    let hi = -Infinity;
    for (const f of this.fHistory) {
      if (f < lo) lo = f;
      if (f > hi) hi = f;
    }
    if (Math.max(hi - lo, this.lastRange) < this.options.tolFun) reasons.push('tolFun');
    const n = this.dimension;
    let tolX = true;
    for (let i = 0; i < n && tolX; i++) {
      const s = Math.max(Math.abs(this.pc[i]!), Math.sqrt(this.C[i * n + i]!));
      if (!(this.sig * s < this.options.tolX)) tolX = false;
    }
    if (tolX) reasons.push('tolX');
    return reasons;
  }

  /** (Re)starts the search distribution at x0 with sigma0, C = I; keeps counters, best and RNG. */
  private resetDistribution(): void {
    const n = this.dimension;
    const o = this.options;
    this.m = Float64Array.from(o.x0, (v) => (this.bound ? this.bound.inverse(v) : v));
    this.sig = o.sigma0;
    this.C = new Float64Array(n * n);
    this.B = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      this.C[i * n + i] = 1;
      this.B[i * n + i] = 1;
    }
    this.D = new Float64Array(n).fill(1);
    this.pc = new Float64Array(n);
    this.ps = new Float64Array(n);
    this.localGen = 0;
    this.localEvals = 0;
    this.eigenEvals = 0;
    this.fHistory = [];
    this.lastRange = null;
    this.pending = null;
  }

  private phenotype(g: Float64Array): Float64Array {
    const bound = this.bound;
    if (!bound) return Float64Array.from(g);
    return Float64Array.from(g, (v) => bound.transform(v));
  }
}
