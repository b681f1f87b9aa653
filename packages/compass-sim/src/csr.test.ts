import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CsrError, decodeFirstPemBlock, decodeStdBase64, DEFAULT_SUBJECT, subjectString, validateCsr } from "./csr.js";

describe("decodeStdBase64 (Go base64.StdEncoding.DecodeString)", () => {
  test("round-trips any bytes, with CR/LF inserted anywhere", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        let text = Buffer.from(bytes).toString("base64");
        for (const cut of cuts) {
          const at = text.length === 0 ? 0 : cut % text.length;
          text = `${text.slice(0, at)}\r\n${text.slice(at)}`;
        }
        expect(decodeStdBase64(text)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  test("rejects the URL-safe alphabet, missing padding and stray characters", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), (bytes) => {
        const url = Buffer.from(bytes).toString("base64url");
        const std = Buffer.from(bytes).toString("base64");
        if (url !== std) expect(decodeStdBase64(url)).toBeUndefined();
      }),
    );
    expect(decodeStdBase64("YQ")).toBeUndefined();
    expect(decodeStdBase64("YQ==")).toEqual(Buffer.from("a"));
    expect(decodeStdBase64("Y Q==")).toBeUndefined();
    expect(decodeStdBase64("YQ==YQ==")).toBeUndefined();
    expect(decodeStdBase64("")).toEqual(Buffer.alloc(0));
  });
});

describe("decodeFirstPemBlock", () => {
  test("finds the first block of any type, skipping text and headers", () => {
    const der = Buffer.from([1, 2, 3, 4, 5]);
    const pem = `junk\n-----BEGIN FOO-----\nProc-Type: 4,ENCRYPTED\n\n${der.toString("base64")}\n-----END FOO-----\n`;
    expect(decodeFirstPemBlock(Buffer.from(pem))).toEqual({ type: "FOO", der });
  });

  test("no block, mismatched END, bad base64", () => {
    expect(decodeFirstPemBlock(Buffer.from("nothing here"))).toBeUndefined();
    expect(decodeFirstPemBlock(Buffer.from("-----BEGIN A-----\nAAAA\n-----END B-----\n"))).toBeUndefined();
    expect(decodeFirstPemBlock(Buffer.from("-----BEGIN A-----\n@@@@\n-----END A-----\n"))).toBeUndefined();
  });
});

describe("validateCsr", () => {
  const exec = promisify(execFile);
  let dir: string;
  const id = "a0aa0faf-4ac5-44c3-8e79-9a551eeaac75";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "csr-unit-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function csr(subject: string): Promise<string> {
    const out = join(dir, `${Math.random()}.pem`);
    await exec("openssl", [
      "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", join(dir, "k.pem"), "-out", out,
      "-subj", "/" + subject.split(",").join("/"),
    ]);
    return (await readFile(out)).toString("base64");
  }

  test("accepts the subject the Connector hands out", async () => {
    const validated = await validateCsr(await csr(subjectString(DEFAULT_SUBJECT, id)), id, DEFAULT_SUBJECT);
    expect(validated.subject).toEqual({
      commonName: id,
      country: ["DE"],
      organization: ["Org"],
      organizationalUnit: ["OrgUnit"],
      locality: ["locality"],
      province: ["province"],
    });
  });

  test("configurable constants", async () => {
    const constants = { organization: "O2", organizationalUnit: "U2", locality: "L2", province: "P2", country: "PL" };
    const arg = await csr(subjectString(constants, id));
    await expect(validateCsr(arg, id, constants)).resolves.toBeDefined();
    await expect(validateCsr(arg, id, DEFAULT_SUBJECT)).rejects.toThrow("CSR: Invalid country provided.");
  });

  test("the last CN counts, like Go's pkix.Name", async () => {
    const arg = await csr(`O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=first,CN=${id}`);
    await expect(validateCsr(arg, id, DEFAULT_SUBJECT)).resolves.toBeDefined();
  });

  test("errors carry the step", async () => {
    const error = await validateCsr("%%%", id, DEFAULT_SUBJECT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CsrError);
    expect((error as CsrError).step).toBe("base64");
  });
});
