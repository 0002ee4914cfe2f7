// Builds the web app into dist/, which the Parley server serves at `/`. `npm run dev` serves it
// with hot reload and forwards the API and the WebSocket to a server on 127.0.0.1:7180.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const server = process.env.PARLEY_SERVER ?? 'http://127.0.0.1:7180';

export default defineConfig({
  // The SDK resolves to its TypeScript source, like everywhere else in the repository.
  resolve: {
    conditions: ['@parley/source', 'module', 'browser', 'development|production'],
    alias: { long: fileURLToPath(new URL('long-stub.js', import.meta.url)) },
  },
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true, reportCompressedSize: false },
  server: {
    proxy: {
      '/v1': server,
      '/ws': { target: server.replace(/^http/, 'ws'), ws: true },
    },
  },
});
