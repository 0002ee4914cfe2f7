// @parley/bench: the benchmark harness behind `parley bench <scenario>` and `npm run bench`.
export { type BenchOptions } from './scenarios/common.js';
export { type ScenarioResult, type SystemResult } from './results.js';
export { RESULTS_DIR, runScenario, type Scenario } from './run.js';
export { SCENARIOS, runBench, BENCH_USAGE } from './cli.js';
export { ALL_SYSTEMS } from './systems.js';
