// Reads pictures as JSON on stdin: [{"name", "kind": "mermaid" | "html", "text"}].
// Writes one result per picture on stdout: {"name", "errors": [...], ...what the parser saw}.
// Mermaid blocks go through Mermaid's own parser, in the two major versions GitHub may run
// (a chart's title and line colours come back, as Mermaid would draw them); HTML through parse5,
// the HTML standard's parsing algorithm, which reports syntax errors and returns the element
// tree (pictures.py adds a strict tag-balance check, which parse5 repairs silently).
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import { parse } from 'parse5';

// Mermaid sanitizes directives with DOMPurify, which needs a window: jsdom's.
globalThis.window = new JSDOM('').window;
const current = (await import('mermaid')).default;
const previous = (await import('mermaid-10')).default;
const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
const versions = [
  [`mermaid ${version('mermaid')}`, current],
  [`mermaid ${version('mermaid-10')}`, previous],
];

function summary(error) {
  return String(error?.message ?? error).split('\n').slice(0, 3).join(' ');
}

async function mermaid(text) {
  const errors = [];
  for (const [name, api] of versions) {
    try {
      await api.parse(text);
    } catch (error) {
      errors.push(`${name}: ${summary(error)}`);
    }
  }
  if (errors.length) return { errors };
  // Parsing again with the current version applies the block's init directive, so the chart's
  // data holds what would be drawn: each line's colour, the title.
  const { diagramType, config } = await current.parse(text);
  const out = { errors, type: diagramType, config };
  if (diagramType === 'xychart') {
    const diagram = await current.mermaidAPI.getDiagramFromText(text);
    const data = diagram.db.getXYChartData();
    out.title = diagram.db.getDiagramTitle();
    out.lines = data.plots.filter((p) => p.type === 'line').map((p) => p.strokeFill);
  }
  return out;
}

function tree(node) {
  if (node.nodeName === '#text') return node.value;
  if (node.nodeName === '#comment') return { tag: '#comment', children: [] };
  const attrs = Object.fromEntries((node.attrs ?? []).map((a) => [a.name, a.value]));
  const children = (node.content ?? node).childNodes ?? [];
  return { tag: node.tagName ?? node.nodeName, attrs, children: children.map(tree) };
}

function html(text) {
  const errors = [];
  const document = parse(text, {
    sourceCodeLocationInfo: true,
    onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}, column ${e.startCol}`),
  });
  return { errors, tree: tree(document) };
}

const pictures = JSON.parse(readFileSync(0, 'utf-8'));
const results = [];
for (const { name, kind, text } of pictures) {
  const result = kind === 'mermaid' ? await mermaid(text) : html(text);
  results.push({ name, ...result });
}
process.stdout.write(JSON.stringify(results));
