// pnpm docs:config — rewrites the README's configuration table from the settings table.
import { readFileSync, writeFileSync } from "node:fs";
import { withConfigTable } from "../src/config/markdown.js";

const path = new URL("../../../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = withConfigTable(before);
if (after !== before) writeFileSync(path, after);
console.log(after === before ? "README configuration table is up to date" : "README configuration table updated");
