// Builds the app with Vite's JS API into outDir (the tests build it in their `before`; nothing is committed).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

export const appDir = path.dirname(fileURLToPath(import.meta.url));

/** The routes the app renders (the server answers index.html for them). */
export const appRoutes = ['/', '/login', '/session'];

export async function buildElementsApp(outDir) {
  await build({
    root: appDir,
    configFile: false,
    logLevel: 'warn',
    mode: 'production',
    plugins: [react()],
    build: { outDir, emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 10_000 },
  });
  return outDir;
}
