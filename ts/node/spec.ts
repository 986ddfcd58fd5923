/**
 * What a client sends to create a tuning job, as JSON schema, and how it becomes the arguments of a tune run.
 *
 * The job's `settings` are the options of `secp-tune tune` under their CLI names (docs/cli.md), so the node and
 * the command line share one vocabulary, one set of defaults and one validation: the schema below is generated
 * from the tune command's option table, and a request is turned into the tune command's argument values by the
 * same parser. The model and data are references to folders and files the node serves (`--models`, `--data`),
 * never paths outside them.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { parseCommand, UsageError, type OptSpec } from '../cli/options.js';
import { TUNE_COMMAND, type Values } from '../cli/tune.js';

export const NODE_DEFAULTS = { host: '127.0.0.1', port: 8080, queue: 'redis', redisUrl: 'redis://127.0.0.1:6379', lockMs: 30_000, sessions: 2 } as const;

/** The seeded tiny BERT every node offers as model 'tiny-bert' (the same weights on every node). */
export const TINY_MODEL = { name: 'tiny-bert', options: { arch: 'bert', seed: 2, layers: 1, hidden: 16, heads: 2 } } as const;

/** Tune options a job may not set: the mode, the files and where the run's state goes are the node's. */
const NODE_OWNED = new Set([
  'plaintext', 'mpc', 'processes', 'job', 'dealer-key', 'model', 'train', 'dev', 'test', 'checkpoint', 'resume', 'overwrite',
  'out', 'json', 'progress', 'max-file-mb',
]); // prettier-ignore

export const SETTING_SPECS: readonly OptSpec[] = TUNE_COMMAND.options.filter((o) => !NODE_OWNED.has(o.name));

/** JSON schema of one tune option. */
function settingSchema(o: OptSpec): Record<string, unknown> {
  const base = { description: o.help + (o.default !== undefined ? ` (default ${JSON.stringify(o.default)})` : '') };
  switch (o.kind) {
    case 'int':
      return { ...base, type: 'integer', ...(o.min !== undefined ? { minimum: o.min } : {}), ...(o.max !== undefined ? { maximum: o.max } : {}) };
    case 'number':
      return { ...base, type: 'number', ...(o.min !== undefined ? { minimum: o.min } : {}), ...(o.max !== undefined ? { maximum: o.max } : {}) };
    case 'enum':
      return { ...base, type: 'string', enum: [...o.values!] };
    case 'list':
      return { ...base, type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: LIST_ITEM } };
    case 'flag':
      return { ...base, type: 'boolean' };
    default:
      return { ...base, type: 'string', minLength: 1 };
  }
}

/** A list setting's item (the list is passed to the tune options comma-separated). */
export const LIST_ITEM = '^[^,]+$';

/** A relative path inside a node folder: no leading '/', no '..' segment. */
export const RELATIVE_PATH = '^(?![/\\\\])(?!.*(^|[/\\\\])\\.\\.([/\\\\]|$))[^\\u0000]+$';
const fileRef = (what: string) => ({ type: 'string', minLength: 1, maxLength: 1024, pattern: RELATIVE_PATH, description: what });

export const JOB_REQUEST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'data'],
  properties: {
    model: { ...fileRef("a model folder under the node's --models folder ('tiny-bert': the seeded tiny BERT every node has)") },
    mode: { type: 'string', enum: ['plaintext', 'mpc'], default: 'plaintext', description: "'plaintext': float64 forward, NO privacy; 'mpc': the 2-party MPC forward" },
    data: {
      type: 'object',
      additionalProperties: false,
      required: ['train'],
      properties: {
        train: fileRef("labelled examples (.csv or .jsonl) under the node's --data folder; train and dev are sampled from it"),
        dev: fileRef('a separate file to sample the dev split from'),
        test: fileRef('test examples, scored once with the selected prompt'),
      },
    },
    settings: {
      type: 'object',
      additionalProperties: false,
      description: 'options of `secp-tune tune`, under their CLI names (docs/cli.md)',
      properties: Object.fromEntries(SETTING_SPECS.map((o) => [o.name, settingSchema(o)])),
    },
    roles: {
      type: 'object',
      additionalProperties: false,
      description: "mpc: where S0, S1, the dealer and the model owner run",
      properties: {
        placement: {
          type: 'string',
          enum: ['in-process', 'processes', 'job'],
          default: 'in-process',
          description: "'in-process': in the session's thread; 'processes': local processes over loopback TCP; 'job': join the roles of a job file",
        },
        job: fileRef("placement 'job': a job file under the node's --data folder (roles started with `secp-tune serve/share-model --job`)"),
      },
    },
    name: { type: 'string', maxLength: 200, description: 'a label shown in job lists' },
  },
} as const;

export interface JobRequest {
  model: string;
  mode?: 'plaintext' | 'mpc';
  data: { train: string; dev?: string; test?: string };
  settings?: Record<string, string | number | boolean | string[]>;
  roles?: { placement?: 'in-process' | 'processes' | 'job'; job?: string };
  name?: string;
}

/** Folders of the node that requests refer into. */
export interface NodeFolders {
  models: string;
  data: string;
  /** Shared by all nodes: the dealer key (MPC) and every job's checkpoint and result. */
  store: string;
}

/** A request error: answered 400 with the message, which names the field. */
export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

function inside(root: string, rel: string, field: string, kind: 'file' | 'folder'): string {
  const path = normalize(join(root, rel));
  if (isAbsolute(rel) || !(path === root || path.startsWith(root.endsWith(sep) ? root : root + sep))) {
    throw new RequestError(`${field} must be a path inside the node's folder, got ${JSON.stringify(rel)}`);
  }
  if (!existsSync(path)) throw new RequestError(`${field}: ${JSON.stringify(rel)} does not exist on this node`);
  if (statSync(path).isDirectory() !== (kind === 'folder')) throw new RequestError(`${field}: ${JSON.stringify(rel)} is not a ${kind}`);
  return path;
}

/**
 * The tune command's argument values for a job: the request's settings and references resolved against the
 * node's folders, with the tune command's defaults. Throws RequestError naming the field.
 */
export function tuneValues(req: JobRequest, folders: NodeFolders, checkpoint: string): Values {
  const argv: string[] = [`--${req.mode ?? 'plaintext'}`];
  argv.push('--model', inside(folders.models, req.model, 'model', 'folder'));
  for (const split of ['train', 'dev', 'test'] as const) {
    const f = req.data[split];
    if (f !== undefined) argv.push(`--${split}`, inside(folders.data, f, `data.${split}`, 'file'));
  }
  // One thread per session unless the job asks for more: the node runs several sessions side by side.
  if (req.settings?.['threads'] === undefined) argv.push('--threads', '1');
  for (const [k, v] of Object.entries(req.settings ?? {})) {
    if (typeof v === 'boolean') {
      if (v) argv.push(`--${k}`);
    } else argv.push(`--${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  const placement = req.roles?.placement ?? 'in-process';
  if (req.roles !== undefined && (req.mode ?? 'plaintext') !== 'mpc') throw new RequestError("roles apply to mode 'mpc' only");
  if (placement === 'job') {
    if (req.roles?.job === undefined) throw new RequestError("roles.job is required with roles.placement 'job'");
    argv.push('--job', inside(folders.data, req.roles.job, 'roles.job', 'file'));
  } else if (req.roles?.job !== undefined) {
    throw new RequestError("roles.job applies to roles.placement 'job' only");
  }
  if (placement === 'processes') argv.push('--processes');
  argv.push('--dealer-key', join(folders.store, 'dealer.key'), '--checkpoint', checkpoint, '--progress', 'none');
  try {
    const parsed = parseCommand(TUNE_COMMAND, argv);
    const std = parsed.values['projection-std'];
    if (std !== undefined && parsed.values['projection'] !== 'normal') throw new UsageError('settings.projection-std needs settings.projection normal');
    return parsed.values;
  } catch (e) {
    if (e instanceof UsageError) throw new RequestError(inJobTerms(e.message));
    throw e;
  }
}

/** A tune usage message in a job's terms: `--popsize` becomes `settings.popsize`. */
export function inJobTerms(message: string): string {
  return message.replace(/^tune: /, '').replace(/--([a-z0-9-]+)/g, 'settings.$1');
}
