/**
 * The redesign's yardstick: the longest functions and the largest files under src-main, so a
 * closing note can show them before and after. Counts physical lines of each function-like node
 * (declarations, methods, arrows and function expressions of 20 lines or more).
 *
 *   node --import tsx scripts/code-metrics.ts [--top N]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');
const top = Number(process.argv[process.argv.indexOf('--top') + 1]) || 10;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  return '(anonymous)';
}

const functions: { where: string; name: string; lines: number }[] = [];
const files: { where: string; lines: number }[] = [];
for (const file of sourceFiles(path.join(root, 'src-main'))) {
  const text = readFileSync(file, 'utf8');
  const where = path.relative(root, file);
  files.push({ where, lines: text.split('\n').length });
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 >= 20)
        functions.push({ where: `${where}:${start + 1}`, name: functionName(node, sf), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

functions.sort((a, b) => b.lines - a.lines);
files.sort((a, b) => b.lines - a.lines);
console.log(`longest functions (of ${functions.length} with 20+ lines)`);
for (const f of functions.slice(0, top)) console.log(`  ${String(f.lines).padStart(4)}  ${f.name}  ${f.where}`);
console.log(`largest files (of ${files.length})`);
for (const f of files.slice(0, top)) console.log(`  ${String(f.lines).padStart(4)}  ${f.where}`);
const longLines =
  files.length &&
  sourceFiles(path.join(root, 'src-main'))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
    .reduce((m, l) => Math.max(m, l.length), 0);
console.log(`longest line: ${longLines} characters`);
