// `npm start`: runs the Parley server on its embedded default once packages/cli exists.
// Until the server lands (issue "IM server on the embedded default"), it says how far the project is.
import { existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';

const cli = new URL('../packages/cli/src/main.ts', import.meta.url);
if (!existsSync(cli)) {
  console.log('Parley: the wire protocol (packages/protocol) is in place; the server is not built yet.');
  console.log('Run `npm test` to check the protocol, `npm run bench` for its codec figures.');
  process.exit(0);
}
// The web app the server shows at `/`: built once (a few seconds), then only when dist/ is gone.
const webIndex = new URL('../packages/web/dist/index.html', import.meta.url);
const webPackage = new URL('../packages/web/package.json', import.meta.url);
if (!process.env.PARLEY_WEB_DIR && existsSync(webPackage) && !existsSync(webIndex)) {
  console.log('Parley: building the web app (packages/web) once...');
  const built = spawnSync('npm', ['run', 'build', '--silent', '-w', '@parley/web'], { stdio: 'inherit' });
  if (built.status !== 0) console.warn('Parley: the web app did not build; the server starts without it.');
}
const child = spawn(
  process.execPath,
  ['--conditions=@parley/source', '--import', 'tsx', cli.pathname, 'serve', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
