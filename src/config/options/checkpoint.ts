import { bool, list, str } from '../define.js';

export const checkpointOptions = {
  checkpointPrefix: str({
    flag: 'checkpoint-prefix', env: 'SIDECAR_CHECKPOINT_PREFIX', group: 'checkpoint',
    help: 'run: keep a consistent copy of the project dir here at every stage boundary; restore / download --restore: put the newest one back. s3://bucket/prefix/ (read, write, delete; scopes the session policy).',
  }),
  checkpointSignalFile: str({
    flag: 'checkpoint-signal-file', env: 'SIDECAR_CHECKPOINT_SIGNAL_FILE', group: 'checkpoint',
    help: 'run: writing or touching this file triggers a checkpoint (its first line, if any, names the stage); for jobs that are not ODM.',
  }),
  checkpointExclude: list({
    flag: 'checkpoint-exclude', env: 'SIDECAR_CHECKPOINT_EXCLUDE', group: 'checkpoint',
    defaultText: "images/** with --preset odm",
    help: 'Paths (relative to the project dir, globs) never put in a checkpoint: the inputs download places. The sidecar\'s own files are always left out.',
  }),
  keepCheckpoints: bool({
    flag: 'keep-checkpoints', env: 'SIDECAR_KEEP_CHECKPOINTS', group: 'checkpoint',
    help: 'run: keep the checkpoint prefix after a job that succeeded and whose manifest says complete (deleted by default).',
  }),
  restore: bool({
    flag: 'restore', env: 'SIDECAR_RESTORE', group: 'checkpoint',
    help: 'download: after the input, restore the newest checkpoint into the input dir (the project dir), before the ready marker.',
  }),
};
