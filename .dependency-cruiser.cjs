// The arrows of the house (../shared/DESIGN.md): appliance → web → (custody | federation) →
// (ingest | search | security) → core. `npm run depcheck` (run by .ci/run) fails on any import
// against them. Tests and benches may reach inside a room; production code enters another room
// only through its index.ts.
const ROOMS = 'core|ingest|search|security|custody|federation|web|appliance';
const may = {
  core: [],
  search: ['core'],
  security: ['core'],
  ingest: ['core', 'search', 'security'],
  custody: ['core', 'ingest', 'search', 'security'],
  federation: ['core', 'ingest', 'search', 'security'],
  web: ['core', 'ingest', 'search', 'security', 'custody', 'federation'],
  appliance: ['core', 'ingest', 'search', 'security', 'custody', 'federation', 'web'],
};
const arrows = Object.entries(may).map(([room, allowed]) => ({
  name: `${room}-imports-only-below`,
  comment: `${room}/ may import ${allowed.length ? allowed.join(', ') : 'nothing of the project'}`,
  severity: 'error',
  from: { path: `^${room}/` },
  to: { path: `^(${ROOMS})/`, pathNot: [`^${room}/`, ...allowed.map((r) => `^${r}/`)] },
}));
module.exports = {
  forbidden: [
    ...arrows,
    {
      name: 'enter-a-room-by-its-index',
      comment: "another room's files are reached only through its index.ts",
      severity: 'error',
      from: { path: `^(${ROOMS})/` },
      to: { path: `^(${ROOMS})/`, pathNot: ['^$1/', `^(${ROOMS})/index\\.ts$`] },
    },
    {
      name: 'no-import-loops',
      severity: 'error',
      from: { path: `^(${ROOMS})/` },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'nothing-imports-tests-or-benches',
      severity: 'error',
      from: { path: `^(${ROOMS})/` },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '^web/public/'] },
  },
};
