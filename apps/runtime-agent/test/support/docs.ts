// Reading the repository's Markdown and test sources for test/docs-citations.test.ts.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

export const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

/** The Markdown files the project documents itself with, repository-relative. */
export function markdownFiles(): string[] {
  const dir = (d: string) =>
    readdirSync(join(ROOT, d))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `${d}/${f}`);
  const packageReadmes = readdirSync(join(ROOT, "packages"))
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => existsSync(join(ROOT, f)));
  return ["README.md", ...dir("docs"), ...packageReadmes];
}

/** Fenced code blocks replaced by empty lines (line numbers stay). */
export function withoutCodeBlocks(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, (block) => block.replace(/[^\n]/g, ""));
}

/** GitHub's anchor of a heading. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[^\p{L}\p{N}\s-]/gu, "")
    .replace(/\s/g, "-");
}

export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutCodeBlocks(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1] ?? "");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every `[text](target)` outside code blocks whose target is not a URL. */
export function relativeLinks(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  withoutCodeBlocks(markdown)
    .split("\n")
    .forEach((text, i) => {
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1] ?? "";
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
        links.push({ target, line: i + 1 });
      }
    });
  return links;
}

/** Whether a link target (relative to the Markdown file `from`) names an existing file or directory and anchor. */
export function linkProblem(from: string, target: string): string | undefined {
  const [pathPart = "", anchor] = target.split("#", 2) as [string, string | undefined];
  const file =
    pathPart === "" ? from : relative(ROOT, resolve(dirname(join(ROOT, from)), decodeURIComponent(pathPart)));
  if (file.startsWith("..")) return `${target}: points outside the repository`;
  if (!existsSync(join(ROOT, file))) return `${target}: ${file} does not exist`;
  if (anchor !== undefined && file.endsWith(".md") && !anchorsOf(read(file)).has(anchor))
    return `${target}: no heading #${anchor} in ${file}`;
  return undefined;
}

// ---- test names ------------------------------------------------------------------------------------------------

/** Stands for any text in a cited name: `…` in a doc. */
export const ANY = "\u0000";

/** Index just past the string literal that starts at `i` (quote at `i`), and its value as written in the source. */
function readString(src: string, i: number): { value: string; end: number } | undefined {
  const quote = src[i];
  if (quote !== '"' && quote !== "'" && quote !== "`") return undefined;
  let value = "";
  let j = i + 1;
  while (j < src.length) {
    const c = src[j] as string;
    if (c === "\\") {
      const next = src[j + 1] ?? "";
      value += next === "n" ? "\n" : next === "t" ? "\t" : next;
      j += 2;
      continue;
    }
    if (c === quote) return { value, end: j + 1 };
    if (quote === "`" && c === "$" && src[j + 1] === "{") {
      const end = skipBalanced(src, j + 1);
      value += src.slice(j, end);
      j = end;
      continue;
    }
    value += c;
    j++;
  }
  return undefined;
}

/** From an opening bracket at `i`, the index just past its matching closing bracket (strings skipped). */
function skipBalanced(src: string, i: number): number {
  const open = src[i] as string;
  const close = open === "(" ? ")" : open === "[" ? "]" : "}";
  let depth = 0;
  let j = i;
  while (j < src.length) {
    const c = src[j] as string;
    if (c === '"' || c === "'" || c === "`") {
      j = readString(src, j)?.end ?? j + 1;
      continue;
    }
    if (c === "/" && src[j + 1] === "/") {
      j = src.indexOf("\n", j);
      if (j < 0) return src.length;
      continue;
    }
    if (c === open) depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return src.length;
}

/**
 * The names of every test, it, describe (and their .each/.skip/... forms) in a test file: the first argument when
 * it is a string literal, as written — a test.each name keeps its `%s`, a template literal its `${...}`, so a
 * citation names what a reader finds in the file.
 */
export function testNames(src: string): string[] {
  const names: string[] = [];
  for (const m of src.matchAll(/(?<![\w$.])(?:test|it|describe)\b/g)) {
    let i = (m.index ?? 0) + m[0].length;
    for (;;) {
      const modifier = /^\s*\.\s*(\w+)\s*/.exec(src.slice(i, i + 60));
      if (!modifier) break;
      i += modifier[0].length;
      if (src[i] === "(" && src[skipBalanced(src, i)] === "(") i = skipBalanced(src, i); // .each(table)(name, ...)
    }
    const open = /^\s*\(\s*/.exec(src.slice(i, i + 200));
    if (!open) continue;
    const literal = readString(src, i + open[0].length);
    if (literal !== undefined) names.push(literal.value);
  }
  return names;
}

/** Whether `cited` (ANY for `…`) is the beginning of `name`. */
export function isCitedPrefixOf(cited: string, name: string): boolean {
  const parts = cited.split(ANY);
  const first = parts.shift() ?? "";
  if (!name.startsWith(first)) return false;
  let at = first.length;
  for (const part of parts) {
    const found = name.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return true;
}

/** The text of a test file and of the files it imports relatively (where test.each tables often live). */
export function sourceWithImports(file: string): string {
  const text = read(file);
  const imported = [...text.matchAll(/from\s+"(\.{1,2}\/[^"]+)"/g)]
    .map((m) => relative(ROOT, resolve(dirname(join(ROOT, file)), (m[1] ?? "").replace(/\.js$/, ".ts"))))
    .filter((f) => existsSync(join(ROOT, f)));
  return [text, ...imported.map(read)].join("\n");
}

// ---- Markdown tables -------------------------------------------------------------------------------------------

/** The cells of a table row (`|` escaped as `\|` stays in its cell). */
export function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}
