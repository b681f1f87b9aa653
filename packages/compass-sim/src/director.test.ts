import { describe, expect, test } from "vitest";
import {
  base64ErrorIndex,
  decodeCursor,
  encodeCursor,
  formatTimestamp,
  nameForRuntime,
  normalizeName,
  paginate,
  validateLabelInput,
} from "./director.js";

describe("cursors", () => {
  test("encodeCursor is std base64 of DpKtJ4j9jDq<offset> (contract §5.4 examples)", () => {
    expect(encodeCursor(2)).toBe("RHBLdEo0ajlqRHEy");
    expect(encodeCursor(4)).toBe("RHBLdEo0ajlqRHE0");
    expect(encodeCursor(100)).toBe("RHBLdEo0ajlqRHExMDA=");
    for (const n of [0, 7, 199, 12345]) expect(decodeCursor(encodeCursor(n))).toBe(n);
  });

  test.each([
    ["", -1],
    ["RHBLdEo0ajlqRHEy", -1],
    ["RHBLdEo0ajlqRHExMDA=", -1],
    ["YQ==", -1],
    ["zzz", 0],
    ["RHBLdEo0ajlqRHE", 12],
    ["a-b_", 1],
    ["YQ=", 3],
    ["Y===", 1],
    ["YQ==YQ==", 4],
    ["YWJj=", 4],
  ])("Go's base64 error index for %j is %d", (text, index) => {
    expect(base64ErrorIndex(text)).toBe(index);
  });

  test("decodeCursor: TrimPrefix + Atoi, negative offsets are InvalidData", () => {
    expect(decodeCursor(Buffer.from("5").toString("base64"))).toBe(5);
    expect(decodeCursor(Buffer.from("DpKtJ4j9jDq+3").toString("base64"))).toBe(3);
    expect(() => decodeCursor(Buffer.from("DpKtJ4j9jDq-1").toString("base64"))).toThrow("Invalid data [reason=cursor is not correct]");
    expect(() => decodeCursor(Buffer.from("DpKtJ4j9jDq1.5").toString("base64"))).toThrow('strconv.Atoi: parsing "1.5": invalid syntax');
    expect(() => decodeCursor(Buffer.from("DpKtJ4j9jDq99999999999999999999").toString("base64"))).toThrow("value out of range");
  });
});

describe("paginate", () => {
  const items = Array.from({ length: 5 }, (_, i) => i);

  test("pages, cursors and totals", () => {
    expect(paginate(items, 2, undefined, false)).toEqual({
      data: [0, 1],
      pageInfo: { startCursor: "", endCursor: encodeCursor(2), hasNextPage: true },
      totalCount: 5,
    });
    expect(paginate(items, 2, encodeCursor(4), false)).toEqual({
      data: [4],
      pageInfo: { startCursor: encodeCursor(4), endCursor: "", hasNextPage: false },
      totalCount: 5,
    });
    expect(paginate([], 200, null, true)).toEqual({
      data: [],
      pageInfo: { startCursor: "", endCursor: "", hasNextPage: false },
      totalCount: 0,
    });
  });

  test("limits", () => {
    expect(() => paginate(items, null, undefined, false)).toThrow("missing required parameter 'first'");
    expect(() => paginate(items, 0, undefined, false)).toThrow("page size cannot be smaller than 1");
    expect(paginate(items, 1000, undefined, false).data).toHaveLength(5);
    expect(() => paginate(items, 201, undefined, true)).toThrow("page size must be between 1 and 200");
    expect(() => paginate(items, 0, undefined, true)).toThrow("page size must be between 1 and 200");
    expect(paginate(items, 200, undefined, true).data).toHaveLength(5);
  });
});

describe("names", () => {
  test.each([
    ["My App", "mp-my-app"],
    ["mp-my-app", "mp-my-app"],
    ["mp-My-App", "mp-mp-my-app"],
    ["mp-", "mp-mp"],
    ["--", "mp"],
    ["A  B", "mp-a-b"],
    ["trailing!", "mp-trailing"],
    ["x.y_z", "mp-x-y-z"],
  ])("normalizeName(%j) = %j", (name, expected) => {
    expect(normalizeName(name)).toBe(expected);
    // Idempotent, except for "mp" itself (a name without letters or digits), exactly as in Compass.
    if (expected !== "mp") expect(normalizeName(expected)).toBe(expected);
  });

  test("systemNumber is appended after normalization (or to the stored name)", () => {
    expect(nameForRuntime({ name: "My App", systemNumber: "123" }, true)).toBe("mp-my-app-123");
    expect(nameForRuntime({ name: "My App", systemNumber: "123" }, false)).toBe("My App-123");
    expect(nameForRuntime({ name: "My App" }, false)).toBe("My App");
  });
});

describe("label input", () => {
  test.each([
    ["ok_Key_1", "v", undefined],
    ["runtime.url", "v", "Invalid data LabelInput [key=must be in a valid format]"],
    ["", "v", "Invalid data LabelInput [key=cannot be blank]"],
    ["k", {}, "Invalid data LabelInput [value=cannot be blank]"],
    ["k", 0, undefined],
    ["k", false, undefined],
  ])("validateLabelInput(%j, %j)", (key, value, message) => {
    expect(validateLabelInput(key, value)?.message).toBe(message);
  });
});

test("Timestamp: RFC 3339, second precision", () => {
  expect(formatTimestamp(new Date(Date.UTC(2024, 5, 1, 10, 0, 0, 789)))).toBe("2024-06-01T10:00:00Z");
  expect(formatTimestamp("2024-06-01T10:00:00.5Z")).toBe("2024-06-01T10:00:00Z");
  expect(() => formatTimestamp("never")).toThrow(TypeError);
});
