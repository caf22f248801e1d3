import { defineConfig } from 'vite';

// The dashboard page: web/ built to dist/web (served by server/static-server.ts).
export default defineConfig({
  root: 'web',
  base: './',
  logLevel: 'warn',
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022' },
});
