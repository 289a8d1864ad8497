#!/usr/bin/env node
'use strict';
// Fails when lib/ has a runtime import cycle. It reads the compiled dist/
// rather than the TypeScript sources because tsc drops imports that are only
// used as types: what is left in dist/ is exactly what runs at load time, so
// `import type` (and type-only names in a mixed import) never count.
//
// usage: node scripts/check-import-cycles.js [dist-dir]   (run `npm run build:ts` first)
const fs = require('fs');
const path = require('path');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..', 'dist'));
if (!fs.existsSync(root)) {
  console.error(`check-import-cycles: ${root} does not exist; run \`npm run build:ts\` first`);
  process.exit(2);
}

function jsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith('.js') ? [p] : [];
  });
}

/** Resolves a relative require() the way Node does for our output: file.js or dir/index.js. */
function resolve(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base, `${base}.js`, path.join(base, 'index.js')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const graph = new Map();
for (const file of jsFiles(root)) {
  const source = fs.readFileSync(file, 'utf8');
  const deps = new Set();
  for (const m of source.matchAll(/require\("(\.{1,2}\/[^"]*)"\)/g)) {
    const target = resolve(file, m[1]);
    if (target) deps.add(target);
  }
  graph.set(file, [...deps]);
}

// Tarjan's strongly connected components, iteratively (no recursion limit).
let next = 0;
const index = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const cycles = [];
for (const start of graph.keys()) {
  if (index.has(start)) continue;
  const work = [[start, 0]];
  index.set(start, next); low.set(start, next); next++;
  stack.push(start); onStack.add(start);
  while (work.length > 0) {
    const frame = work[work.length - 1];
    const [node, i] = frame;
    const deps = graph.get(node) || [];
    if (i < deps.length) {
      frame[1]++;
      const dep = deps[i];
      if (!index.has(dep)) {
        index.set(dep, next); low.set(dep, next); next++;
        stack.push(dep); onStack.add(dep);
        work.push([dep, 0]);
      } else if (onStack.has(dep)) {
        low.set(node, Math.min(low.get(node), index.get(dep)));
      }
      continue;
    }
    work.pop();
    if (work.length > 0) {
      const parent = work[work.length - 1][0];
      low.set(parent, Math.min(low.get(parent), low.get(node)));
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) || []).includes(node);
      if (component.length > 1 || selfLoop) cycles.push(component);
    }
  }
}

const rel = (f) => path.relative(root, f).replace(/\.js$/, '.ts');
if (cycles.length > 0) {
  console.error(`check-import-cycles: ${cycles.length} runtime import cycle(s) in lib/:`);
  for (const c of cycles) console.error(`  ${c.map(rel).sort().join(' <-> ')}`);
  process.exit(1);
}
console.log(`check-import-cycles: no runtime import cycle among ${graph.size} modules`);
