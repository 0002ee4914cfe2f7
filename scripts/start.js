// `npm start`: runs the Parley server on its embedded default once packages/cli exists.
// Until the server lands (issue "IM server on the embedded default"), it says how far the project is.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';

const cli = new URL('../packages/cli/src/main.ts', import.meta.url);
if (!existsSync(cli)) {
  console.log('Parley: the wire protocol (packages/protocol) is in place; the server is not built yet.');
  console.log('Run `npm test` to check the protocol, `npm run bench` for its codec figures.');
  process.exit(0);
}
const child = spawn(
  process.execPath,
  ['--conditions=@parley/source', '--import', 'tsx', cli.pathname, 'serve', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
