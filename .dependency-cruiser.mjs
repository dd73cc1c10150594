/**
 * The engine's layers, checked on every import by `npm run lint:layers` (part of `npm run lint`).
 *
 * Each row may import from any row above it and from its own folder; folders on one row are
 * siblings and may not import each other. So a folder-level cycle cannot form, and a file-level one
 * is refused by `no-circular`.
 *
 * `api` holds the contract the renderer imports, so it and what it imports must run in a browser:
 * from util it may take only the error codes and their wire form, which import no Node; the
 * renderer may import nothing from src-main but api. `cli` sits above `bridge` because `distill serve`
 * starts the bridge; the Electron shell (`app`) is the other top.
 */
const LAYERS = [
  ['util'],
  ['api'],
  ['backends'],
  ['data', 'teachers', 'students'],
  ['store', 'teacher-server'],
  ['training'],
  ['methods', 'recipe'],
  ['export'],
  ['jobs'],
  ['experiments'],
  ['worker'],
  ['service'],
  ['bridge'],
  ['cli', 'app'],
];

const folder = (names) => `^src-main/(${names.join('|')})/`;
const layerRules = LAYERS.flatMap((row, i) => {
  const allowed = new Set(LAYERS.slice(0, i).flat());
  return row.map((name) => {
    const forbidden = LAYERS.flat().filter((f) => f !== name && !allowed.has(f));
    return {
      name: `layer-${name}`,
      comment: `src-main/${name} may import only ${[...allowed].join(', ') || 'nothing else in src-main'} (see LAYERS in .dependency-cruiser.mjs)`,
      severity: 'error',
      from: { path: folder([name]) },
      to: { path: folder(forbidden) },
    };
  });
});

export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A module must not import itself back through others: split or move the shared part down a layer.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'contract-is-browser-code',
      comment: 'src-main/api is imported by the renderer, so it may not use Node built-ins.',
      severity: 'error',
      from: { path: '^src-main/api/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'contract-takes-only-errors-from-util',
      comment: 'src-main/api is browser code: of util it may import only errors.ts and serialize-error.ts.',
      severity: 'error',
      from: { path: '^src-main/api/' },
      to: { path: '^src-main/util/', pathNot: '^src-main/util/(errors|serialize-error)[.]ts$' },
    },
    {
      name: 'browser-safe-errors',
      comment: 'util/errors.ts and util/serialize-error.ts reach the renderer through the contract: no Node built-ins.',
      severity: 'error',
      from: { path: '^src-main/util/(errors|serialize-error)[.]ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'renderer-only-contract',
      comment: 'The renderer talks to the engine only through src-main/api.',
      severity: 'error',
      from: { path: '^src-renderer/' },
      to: { path: '^src-main/(?!api/)' },
    },
    {
      name: 'engine-without-electron',
      comment: 'Only src-main/app may import electron.',
      severity: 'error',
      from: { path: '^(src-main|test|bench|scripts)/', pathNot: '^src-main/app/' },
      to: { path: '^electron$|node_modules/electron/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^dist/|^src-renderer/dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.svelte'] },
  },
};
