// Builds the Svelte 5 wizard into src-renderer/dist, served by `distill serve` and by the
// desktop app's app:// protocol. Relative asset paths so both hosts work unchanged.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  root: 'src-renderer',
  base: './',
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
});
