/**
 * Option tables for the CLI's subcommands, on top of node's util.parseArgs: one table per subcommand gives
 * each option's type, default, accepted range and help line, from which both the parser's validation and
 * `--help` are generated, so the two cannot drift apart.
 */
import { parseArgs } from 'node:util';

/** A usage error: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A feature this build does not have yet: exit code 3. */
export class NotAvailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAvailableError';
  }
}

export type OptKind = 'flag' | 'string' | 'path' | 'int' | 'number' | 'enum' | 'list' | 'hostport';

export interface OptSpec {
  name: string;
  kind: OptKind;
  help: string;
  /** Shown in --help and used when the option is absent (undefined: no value). */
  default?: string | number | boolean;
  /** Text shown instead of the default (e.g. 'all CPUs'). */
  defaultText?: string;
  required?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Sizes: what a value above `max` would cost, appended to the range error (e.g. the memory it needs). */
  overMax?: (v: number) => string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  group: string;
  /** Placeholder in --help. */
  arg?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: readonly OptSpec[];
  /** Extra paragraphs after the option list. */
  notes?: readonly string[];
}

export type OptValue = string | number | boolean | string[] | { host: string; port: number };

export interface Parsed {
  values: Record<string, OptValue | undefined>;
  /** Options the user gave explicitly. */
  given: Set<string>;
  help: boolean;
}

const HOSTPORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Parses HOST:PORT ([v6]:PORT for IPv6); throws a UsageError naming `what`. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = HOSTPORT.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`${what} must be HOST:PORT with a port in 1..65535 (IPv6 as [::1]:PORT), got ${JSON.stringify(value)}`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function suggest(word: string, options: readonly OptSpec[]): string {
  let best = '';
  let bestD = Infinity;
  for (const o of options) {
    const dd = distance(word, o.name);
    if (dd < bestD) {
      bestD = dd;
      best = o.name;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? `; did you mean --${best}?` : '';
}

function convert(spec: OptSpec, raw: string, command: string): OptValue {
  const name = `--${spec.name}`;
  const range = () =>
    spec.min !== undefined && spec.max !== undefined
      ? ` in ${spec.min}..${spec.max}`
      : spec.min !== undefined
        ? ` >= ${spec.min}`
        : '';
  switch (spec.kind) {
    case 'int': {
      const v = Number(raw);
      if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || (spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
        const cost = spec.overMax !== undefined && spec.max !== undefined && v > spec.max ? spec.overMax(v) : '';
        throw new UsageError(`${command}: ${name} must be an integer${range()}, got ${JSON.stringify(raw)}${cost}`);
      }
      return v;
    }
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v) || (spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
        throw new UsageError(`${command}: ${name} must be a number${range()}, got ${JSON.stringify(raw)}`);
      }
      return v;
    }
    case 'enum':
      if (!spec.values!.includes(raw)) {
        throw new UsageError(`${command}: ${name} must be one of ${spec.values!.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    case 'list': {
      const items = raw.split(',').map((s) => s.trim());
      if (items.some((s) => s === '')) throw new UsageError(`${command}: ${name} is a comma-separated list without empty items, got ${JSON.stringify(raw)}`);
      return items;
    }
    case 'hostport':
      return parseHostPort(raw, `${command}: ${name}`);
    case 'path':
    case 'string':
      if (raw === '') throw new UsageError(`${command}: ${name} needs a value`);
      return raw;
    default:
      return raw;
  }
}

/**
 * `--shots -1` as `--shots=-1`: parseArgs takes a value that starts with '-' for an option, so a negative number
 * would read as a missing value; joined, it reaches the range check, which says what is wrong with it.
 */
function joinNegativeValues(spec: CommandSpec, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const o = a.startsWith('--') ? spec.options.find((x) => `--${x.name}` === a) : undefined;
    const next = argv[i + 1];
    if (o !== undefined && o.kind !== 'flag' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parses argv for one subcommand; every problem is a UsageError naming the option and what it accepts. */
export function parseCommand(spec: CommandSpec, argv: readonly string[], options: { deferRequired?: boolean } = {}): Parsed {
  const config: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const o of spec.options) config[o.name] = { type: o.kind === 'flag' ? 'boolean' : 'string', ...(o.multiple ? { multiple: true } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(spec, argv), options: config, strict: true, allowPositionals: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const m = /'(-{1,2}[^']*)'/.exec(e.message);
    const opt = m?.[1] ?? '';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const word = opt.replace(/^-+/, '').split('=')[0]!;
      throw new UsageError(`${spec.name}: unknown option ${opt}${suggest(word, spec.options)}`);
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /--([\w-]+)/.exec(e.message)?.[1];
      const o = spec.options.find((x) => x.name === name);
      if (o && o.kind === 'flag') throw new UsageError(`${spec.name}: --${name} is a switch and takes no value`);
      throw new UsageError(`${spec.name}: --${name ?? opt} needs a value${o?.arg ? ` (${o.arg})` : ''}`);
    }
    throw new UsageError(`${spec.name}: ${e.message}`);
  }
  if (parsed.positionals.length > 0) {
    throw new UsageError(`${spec.name}: unexpected argument ${JSON.stringify(parsed.positionals[0])}; options start with --`);
  }
  const raw = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const help = raw['help'] === true;
  const values: Record<string, OptValue | undefined> = {};
  const given = new Set<string>();
  for (const o of spec.options) {
    const v = raw[o.name];
    if (v === undefined) {
      values[o.name] = o.default;
      continue;
    }
    given.add(o.name);
    if (o.kind === 'flag') values[o.name] = v as boolean;
    else if (o.multiple) values[o.name] = (v as string[]).map((x) => convert(o, x, spec.name) as string);
    else values[o.name] = convert(o, v as string, spec.name);
  }
  if (!help && options.deferRequired !== true) checkRequired(spec, values);
  return { values, given, help };
}

/** Throws a UsageError for the first required option without a value. */
export function checkRequired(spec: CommandSpec, values: Parsed['values']): void {
  for (const o of spec.options) {
    if (o.required && values[o.name] === undefined) {
      throw new UsageError(`${spec.name}: --${o.name} is required (${o.help.replace(/\.$/, '')})`);
    }
  }
}

/** The --help text: usage, summary, options by group with their defaults, notes. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, ''];
  const groups = [...new Set(spec.options.map((o) => o.group))];
  const label = (o: OptSpec) => {
    if (o.kind === 'flag') return `--${o.name}`;
    const arg = o.arg ?? (o.kind === 'enum' ? o.values!.join('|') : o.kind === 'hostport' ? 'HOST:PORT' : o.kind.toUpperCase());
    return `--${o.name} ${arg}`;
  };
  const width = Math.min(34, Math.max(...spec.options.map((o) => label(o).length)) + 2);
  for (const g of groups) {
    lines.push(`${g}:`);
    for (const o of spec.options.filter((x) => x.group === g)) {
      const dflt =
        o.defaultText !== undefined
          ? o.defaultText
          : o.required
            ? 'required'
            : o.default === undefined
              ? o.kind === 'flag' ? 'off' : 'none'
              : String(o.default);
      const l = label(o);
      const pad = l.length + 2 > width ? `\n  ${' '.repeat(width)}` : ' '.repeat(width - l.length);
      lines.push(`  ${l}${pad}${o.help} [default: ${dflt}]`);
    }
    lines.push('');
  }
  lines.push(`  -h, --help${' '.repeat(Math.max(1, width - 10))}show this help`);
  for (const n of spec.notes ?? []) lines.push('', n);
  return `${lines.join('\n')}\n`;
}
