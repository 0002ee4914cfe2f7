/**
 * `parley bench <scenario> [--quick] ...`: the benchmark harness of the bench/ workspace,
 * loaded only when asked for. The harness parses its own arguments (everything after
 * `bench`); the options declared on the command are there for --help.
 */
export async function benchCommand(): Promise<void> {
  const { runBench } = await import('@parley/bench');
  process.exitCode = await runBench(process.argv.slice(process.argv.indexOf('bench') + 1));
}
