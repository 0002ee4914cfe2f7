// `npm run bench -- <scenario> [--quick] ...` (see BENCHMARKS.md).
import { runBench } from './cli.js';

process.exitCode = await runBench(process.argv.slice(2));
