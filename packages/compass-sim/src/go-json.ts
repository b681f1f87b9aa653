/**
 * The error text Go's `encoding/json` Decoder gives for a request body, as gqlgen (Compass's GraphQL server) puts it
 * into `json request body could not be decoded: <error> body:<body>`. gqlgen decodes the first JSON value of the
 * body into `graphql.RawParams` with `json.NewDecoder(…).Decode`, so: an empty body is `EOF`, a value cut short is
 * `unexpected EOF`, text after the first value is ignored, and syntax errors name the first bad character the way
 * Go's scanner does (`invalid character 'c' looking for beginning of value`).
 */

/** Go's `quoteChar`: `'x'`, with `'\''` and `'"'` special and control characters escaped. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const quoted = JSON.stringify(c);
  return `'${quoted.slice(1, -1)}'`;
}

class SyntaxProblem extends Error {}

const EOF = Symbol("eof");

/** A recursive reader with Go's scanner messages; returns the index after the first value. */
class Scanner {
  private index = 0;
  constructor(private readonly text: string) {}

  private peek(): string | typeof EOF {
    return this.index < this.text.length ? this.text[this.index]! : EOF;
  }

  private fail(c: string | typeof EOF, context: string): never {
    if (c === EOF) throw new SyntaxProblem("unexpected EOF");
    throw new SyntaxProblem(`invalid character ${quoteChar(c)} ${context}`);
  }

  private skipSpace(): void {
    while (this.index < this.text.length && " \t\r\n".includes(this.text[this.index]!)) this.index++;
  }

  /** Reads one value starting at the next non-space character. */
  value(): void {
    this.skipSpace();
    const c = this.peek();
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c !== EOF && c >= "0" && c <= "9")) return this.number();
    for (const literal of ["true", "false", "null"]) {
      if (c === literal[0]) return this.literal(literal);
    }
    this.fail(c, "looking for beginning of value");
  }

  private literal(word: string): void {
    for (let i = 0; i < word.length; i++) {
      const c = this.peek();
      if (c !== word[i]) this.fail(c, `in literal ${word} (expecting ${quoteChar(word[i]!)})`);
      this.index++;
    }
  }

  private number(): void {
    if (this.peek() === "-") this.index++;
    const digit = () => {
      const c = this.peek();
      return c !== EOF && c >= "0" && c <= "9";
    };
    if (!digit()) this.fail(this.peek(), "in numeric literal");
    if (this.peek() === "0") this.index++;
    else while (digit()) this.index++;
    if (this.peek() === ".") {
      this.index++;
      if (!digit()) this.fail(this.peek(), "after decimal point in numeric literal");
      while (digit()) this.index++;
    }
    const e = this.peek();
    if (e === "e" || e === "E") {
      this.index++;
      const sign = this.peek();
      if (sign === "+" || sign === "-") this.index++;
      if (!digit()) this.fail(this.peek(), "in exponent of numeric literal");
      while (digit()) this.index++;
    }
  }

  private string(): void {
    this.index++;
    for (;;) {
      const c = this.peek();
      if (c === EOF) this.fail(c, "");
      this.index++;
      if (c === '"') return;
      if (c < " ") this.fail(c, "in string literal");
      if (c === "\\") {
        const escaped = this.peek();
        if (escaped === EOF) this.fail(escaped, "");
        this.index++;
        if (escaped === "u") {
          for (let i = 0; i < 4; i++) {
            const hex = this.peek();
            if (hex === EOF || !/[0-9a-fA-F]/.test(hex)) this.fail(hex, "in \\u hexadecimal character escape");
            this.index++;
          }
        } else if (!'"\\/bfnrt'.includes(escaped)) {
          this.fail(escaped, "in string escape code");
        }
      }
    }
  }

  private object(): void {
    this.index++;
    this.skipSpace();
    if (this.peek() === "}") {
      this.index++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '"') this.fail(this.peek(), "looking for beginning of object key string");
      this.string();
      this.skipSpace();
      if (this.peek() !== ":") this.fail(this.peek(), "after object key");
      this.index++;
      this.value();
      this.skipSpace();
      const c = this.peek();
      this.index++;
      if (c === "}") return;
      if (c !== ",") this.fail(c, "after object key:value pair");
    }
  }

  private array(): void {
    this.index++;
    this.skipSpace();
    if (this.peek() === "]") {
      this.index++;
      return;
    }
    for (;;) {
      this.value();
      this.skipSpace();
      const c = this.peek();
      this.index++;
      if (c === "]") return;
      if (c !== ",") this.fail(c, "after array element");
    }
  }

  /** True when nothing but white space is left (Go's Decoder reports EOF for an empty body). */
  atEnd(): boolean {
    this.skipSpace();
    return this.index >= this.text.length;
  }

  get position(): number {
    return this.index;
  }
}

/** Go's name for a JSON value's kind in `cannot unmarshal <kind> into …`. */
function goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "object" && value !== null) return "object";
  return typeof value === "boolean" ? "bool" : typeof value;
}

const FIELD_TYPES: Record<string, { goType: string; accepts: (value: unknown) => boolean }> = {
  query: { goType: "string", accepts: (value) => typeof value === "string" },
  operationName: { goType: "string", accepts: (value) => typeof value === "string" },
  variables: {
    goType: "map[string]interface {}",
    accepts: (value) => typeof value === "object" && !Array.isArray(value),
  },
  extensions: {
    goType: "map[string]interface {}",
    accepts: (value) => typeof value === "object" && !Array.isArray(value),
  },
};

export type GoDecodeResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/**
 * Decodes a GraphQL request body as gqlgen does. Fields are matched case-insensitively by Go; JSON `null` leaves a
 * field unset, and a body that is `null` decodes to an empty request.
 */
export function decodeGraphQLBody(text: string): GoDecodeResult {
  const scanner = new Scanner(text);
  if (scanner.atEnd()) return { ok: false, error: "EOF" };
  try {
    scanner.value();
  } catch (error) {
    if (error instanceof SyntaxProblem) return { ok: false, error: error.message };
    throw error;
  }
  const json: unknown = JSON.parse(text.slice(0, scanner.position));
  if (json === null) return { ok: true, value: {} };
  if (typeof json !== "object" || Array.isArray(json)) {
    return { ok: false, error: `json: cannot unmarshal ${goKind(json)} into Go value of type graphql.RawParams` };
  }
  const value: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(json)) {
    const field = Object.keys(FIELD_TYPES).find((name) => name.toLowerCase() === key.toLowerCase());
    if (!field || item === null) continue;
    if (!FIELD_TYPES[field]!.accepts(item)) {
      const kind = typeof item === "number" ? "number" : goKind(item);
      return {
        ok: false,
        error: `json: cannot unmarshal ${kind} into Go struct field RawParams.${field} of type ${FIELD_TYPES[field]!.goType}`,
      };
    }
    value[field] = item;
  }
  return { ok: true, value };
}
