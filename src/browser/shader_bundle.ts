// The WGSL library for browsers: every shaders/**/*.wgsl as a name -> source map (names as
// src/node/shaders.ts gives them: the path under shaders/ without the extension).
// In the repository this module runs through Vite (the demo, vitest), which collects the files with
// import.meta.glob. `npm run build` (scripts/build.mjs) replaces its compiled form,
// dist/src/browser/shader_bundle.js, with the sources as string literals, so the published package needs
// no Vite feature and works with any bundler (Vite, esbuild, webpack, Rollup).
const modules = import.meta.glob('../../shaders/**/*.wgsl', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

/** Shader name (e.g. 'matmul', 'common/structs') -> WGSL source. */
export const SHADERS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(modules).map(([path, src]) => [path.replace(/^.*\/shaders\//, '').replace(/\.wgsl$/, ''), src]),
);
