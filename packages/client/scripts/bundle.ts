// Builds the browser bundle of the SDK core (src/index.ts) with esbuild and reports its size:
// raw, minified and gzipped, and which inputs dominate. `npm run size -w packages/client`.
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

export interface BundleReport {
  minifiedBytes: number;
  gzipBytes: number;
  /** Gzipped size with the generated schema replaced by an empty stub: the SDK's own weight. */
  gzipWithoutSchemaBytes: number;
  /** Minified bytes by origin: the generated schema, protobufjs, other dependencies, the SDK itself. */
  parts: Record<'schema' | 'protobufjs' | 'dependencies' | 'sdk' | 'protocol', number>;
  warnings: string[];
}

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** Bundles for browsers (no Node built-ins allowed: esbuild fails on them for platform 'browser'). */
export async function bundleBrowser(): Promise<{ code: Uint8Array; report: BundleReport }> {
  const result = await buildOnce(false);
  const stubbed = await buildOnce(true);
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const withoutSchema = stubbed.outputFiles[0]?.contents ?? new Uint8Array();
  return {
    code,
    report: {
      minifiedBytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      gzipWithoutSchemaBytes: gzipSync(withoutSchema, { level: 9 }).length,
      parts: breakdown(result.metafile),
      warnings: result.warnings.map((w) => w.text),
    },
  };
}

function buildOnce(stubSchema: boolean) {
  return build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['@parley/source'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: stubSchema
      ? [
          {
            name: 'stub-schema',
            setup(b) {
              b.onLoad({ filter: /protocol[\\/]gen[\\/]parley\.js$/ }, () => ({
                contents: 'export const parley = { v1: {} };',
                loader: 'js',
              }));
            },
          },
        ]
      : [],
  });
}

function breakdown(meta: Metafile): BundleReport['parts'] {
  const parts = { schema: 0, protobufjs: 0, dependencies: 0, sdk: 0, protocol: 0 };
  for (const output of Object.values(meta.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (path.includes('protocol/gen/')) parts.schema += bytesInOutput;
      else if (path.includes('protocol/src/')) parts.protocol += bytesInOutput;
      else if (
        path.includes('node_modules/protobufjs') ||
        path.includes('node_modules/@protobufjs') ||
        path.includes('node_modules/long')
      )
        parts.protobufjs += bytesInOutput;
      else if (path.includes('node_modules/')) parts.dependencies += bytesInOutput;
      else parts.sdk += bytesInOutput;
    }
  }
  return parts;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { report } = await bundleBrowser();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(
    `browser bundle (src/index.ts, esm, minified): ${kb(report.minifiedBytes)}, gzipped ${kb(report.gzipBytes)}`,
  );
  console.log(`  without the generated schema: ${kb(report.gzipWithoutSchemaBytes)} gzipped`);
  for (const [name, bytes] of Object.entries(report.parts))
    console.log(`  ${name.padEnd(13)} ${kb(bytes).padStart(9)} minified`);
  for (const w of report.warnings) console.log(`  warning: ${w}`);
}
