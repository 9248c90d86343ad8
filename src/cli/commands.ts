// The list of weft commands: each lives in its own file and adds itself to the program.
import type { Command } from 'commander';
import { register as apply } from './apply.ts';
import { register as check } from './check.ts';
import { register as controlPlane } from './control-plane.ts';
import { register as del } from './delete.ts';
import { register as get } from './get.ts';
import { register as proxy } from './proxy.ts';
import { register as proxyStatus } from './proxy-status.ts';
import { register as run } from './run.ts';
import { register as token } from './token.ts';
import { register as version } from './version.ts';

/** Adds one command (with its flags and action) to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  version,
  token,
  controlPlane,
  apply,
  get,
  del,
  proxy,
  proxyStatus,
  run,
  check,
];
