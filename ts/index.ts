/**
 * secp-tuning's public API: the forward-only (Black-Box-Tuning) prompt tuning loop, its data, task,
 * projection and loss pieces, the Evaluator seam with the plaintext and the MPC evaluator, the roles of an
 * MPC job (job file, dealer key, role processes), the model loading and the tiny seeded model writer.
 * The kernels alone: `secp-tuning/bindings` (with a `browser` entry).
 */
export { SecpError, type ErrorCode } from '../bindings/errors.js';
export { UsageError } from './cli/options.js';
export { loadBackend, type BackendName, type KernelBackend, type LoadOptions as BackendLoadOptions } from '../bindings/index.js';
export { writeTinyModel, TINY_WORDS, type TinyModelOptions } from './model/tiny.js';
export type { Arch } from './model/config.js';
export type { MpcSpec, MlmHeadSpec, PooledHeadSpec, MpcBatchShape } from './model/mpc.js';
export type { Role } from './mpc/party.js';
export type { PartyId } from './net/types.js';
export type { TcpAddress } from './net/tcp.js';
export {
  MPC_PARTIES,
  MpcEvaluator,
  runRole,
  sessionId,
  specFor,
  type Job,
  type MpcEvaluatorOptions,
} from './tuning/mpc-evaluator.js';
export { loadDealerKey, readJob } from './cli/roles.js';
export { loadModel, type LoadedModel, type ModelConfig } from './model/config.js';
export { PlainEncoder, type EncoderOptions, type RfaOptions } from './model/plain.js';
export {
  DATA_DEFAULTS,
  examplesHash,
  loadDataset,
  parseCsv,
  sampleFewShot,
  subsample,
  type CsvRecord,
  type Dataset,
  type Example,
  type FewShotOptions,
  type LoadOptions,
} from './tuning/data.js';
export {
  PROMPT_SEPARATOR,
  TASKS,
  encodeExamples,
  labelWordIds,
  placeholderIds,
  promptInitIds,
  resolveTask,
  type EncodedBatch,
  type EncodeOptions,
  type Metric,
  type ResolvedTask,
  type TaskKind,
  type TaskOverrides,
  type TaskSpec,
} from './tuning/task.js';
export {
  PROJECTION_DEFAULTS,
  RandomProjection,
  embeddingScaledStd,
  type ProjectionKind,
  type ProjectionOptions,
} from './tuning/projection.js';
export {
  HINGE_MARGIN,
  accuracy,
  crossEntropy,
  f1Score,
  hingeLoss,
  predictions,
  scoreBatch,
  type BatchScore,
  type LossKind,
} from './tuning/losses.js';
export { SPLITS, type Evaluator, type EvaluatorMeter, type Split } from './tuning/evaluator.js';
export {
  PLAIN_EVALUATOR_DEFAULTS,
  PlainEvaluator,
  type PlainEvaluatorOptions,
  type PromptMode,
} from './tuning/plain-evaluator.js';
export {
  TUNE_DEFAULTS,
  resolveTuneOptions,
  runTune,
  tune,
  type BestPrompt,
  type DoneEvent,
  type GenerationEvent,
  type HistoryEntry,
  type ResolvedTuneOptions,
  type SplitScore,
  type StartEvent,
  type StopReason,
  type TuneEvent,
  type TuneOptions,
  type TuneResult,
} from './tuning/loop.js';
export { CMAES, CMAES_DEFAULTS, type CMAESOptions, type CMAESState } from './tuning/cmaes.js';
export { TuningJob, startTuning, type TuningJobEvents } from './tuning/job.js';
