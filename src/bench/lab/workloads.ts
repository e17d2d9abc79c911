/**
 * Every workload `trainfer lab` runs, in order. One static list, no registration by side effect:
 * a new workload (issue 12's text transformer, issue 13's recommenders) is one more entry here and a
 * file of its own implementing `Workload` (see docs/lab.md, "Adding a workload").
 */
import { mnistCnn, mnistMlp } from './mnist.js';
import { recsysTwoTower } from './recsys.js';
import { spamTransformer } from './spam.js';
import type { Workload } from './workload.js';

/** The lab's workloads. */
export const WORKLOADS: readonly Workload[] = [mnistMlp, mnistCnn, recsysTwoTower, spamTransformer];
