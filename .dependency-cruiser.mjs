/**
 * Layers that only point down (issue 15; docs/architecture.md explains each layer). `npm run lint`
 * runs dependency-cruiser with this file: it fails on any import cycle, on an import from a higher
 * layer, and on connectors/ importing Roster's internals. LAYERS, top to bottom, is the one place
 * the order is written.
 */
const LAYERS = [
  ['entry points', '^src/main\\.ts$|^src/cli/'],
  ['composition root', '^src/compose/'],
  ['edges (HTTP app, middleware and routes)', '^src/(http|ops|console)/|^src/scim/routes/'],
  ['SCIM operations', '^src/scim/(operations|list|render)\\.ts$'],
  ['HR import', '^src/import/'],
  ['governance (access requests, reviews, the orphan ledger)', '^src/governance/'],
  ['policy', '^src/policy/'],
  ['resources', '^src/resources/'],
  ['sync', '^src/sync/'],
  ['OAuth issuer', '^src/oauth/'],
  ['authentication', '^src/auth/'],
  ['write path', '^src/write/'],
  ['journal', '^src/journal/'],
  ['store', '^src/store/'],
  ['stored secrets', '^src/secrets/'],
  ['database', '^src/db/'],
  ['queue', '^src/queue/'],
  ['SCIM vocabulary (schema, filter, patch, validation, errors)', '^src/scim/'],
  ['metrics', '^src/metrics/'],
  ['foundations (config, logging)', '^src/(config|logging)/'],
  ['pure helpers (no Roster state; connectors may use them)', '^src/lib/'],
];

/** One rule per layer: a file belongs to the first layer whose pattern matches it. */
const layerRules = LAYERS.flatMap(([name, path], index) => {
  const higher = LAYERS.slice(0, index).map(([, pattern]) => pattern).join('|');
  if (!higher) return [];
  return [
    {
      name: `layer: ${name}`,
      comment: `${name} may import only its own layer and the layers below it (docs/architecture.md)`,
      severity: 'error',
      // pathNot keeps a file in the first layer it matches (src/scim/routes/ is an edge, not vocabulary).
      from: { path, pathNot: higher },
      to: { path: higher },
    },
  ];
});

export default {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Modules must not import each other in a circle: it hides which one is the lower layer.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'connectors-stand-alone',
      comment: 'connectors/ describe targets and speak SCIM to them; of src/ they may use only the pure helpers in src/lib.',
      severity: 'error',
      from: { path: '^connectors/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'store-knows-only-resource-types',
      comment: 'The store keeps SCIM resources; of the SCIM layer it may name only the resource types and extension URNs (src/scim/schema/urns.ts).',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/scim/', pathNot: '^src/scim/schema/urns\\.ts$' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|dist|test|bench|scripts|migrations)/' },
  },
};
