import test from 'ava';
import * as api from '../ts/index.js';

test('the public API exports the tuning pieces, the MPC evaluator and roles, the tiny model writer and the errors', (t) => {
  for (const name of [
    'tune', 'runTune', 'resolveTuneOptions', 'TUNE_DEFAULTS', 'PlainEvaluator', 'loadDataset', 'parseCsv', 'sampleFewShot',
    'subsample', 'resolveTask', 'TASKS', 'encodeExamples', 'labelWordIds', 'RandomProjection', 'embeddingScaledStd',
    'crossEntropy', 'hingeLoss', 'accuracy', 'f1Score', 'scoreBatch', 'CMAES', 'loadModel', 'PlainEncoder', 'SecpError',
    'MpcEvaluator', 'MPC_PARTIES', 'runRole', 'sessionId', 'specFor', 'readJob', 'loadDealerKey', 'writeTinyModel', 'TINY_WORDS',
    'UsageError', 'loadBackend',
  ]) {
    t.true(name in api, name);
  }
  t.is(api.TUNE_DEFAULTS.budget, 8000);
  t.is(api.TUNE_DEFAULTS.popsize, 20);
  t.is(api.TUNE_DEFAULTS.dim, 500);
  t.is(api.TUNE_DEFAULTS.bound, 5);
});
