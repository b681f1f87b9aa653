/** Reading X.501 names the way Go's crypto/x509 (pkix.Name.FillFromRDNSequence) does. */
import type * as pkijs from "pkijs";
import { OID } from "./pki.js";

/** The subject attributes Compass looks at, with every value in encoding order (multi-valued RDNs flattened). */
export interface NameValues {
  /** Go keeps the LAST common name it meets. */
  commonName: string;
  country: string[];
  organization: string[];
  organizationalUnit: string[];
  locality: string[];
  province: string[];
}

function stringValue(value: unknown): string | undefined {
  // Only ASN.1 string types carry a string; Go skips attributes whose value is not a string.
  const block = (value as { valueBlock?: { value?: unknown } } | null)?.valueBlock;
  return typeof block?.value === "string" ? block.value : undefined;
}

export function nameValues(name: pkijs.RelativeDistinguishedNames): NameValues {
  const out: NameValues = {
    commonName: "",
    country: [],
    organization: [],
    organizationalUnit: [],
    locality: [],
    province: [],
  };
  for (const attribute of name.typesAndValues) {
    const value = stringValue(attribute.value);
    if (value === undefined) continue;
    switch (attribute.type) {
      case OID.commonName:
        out.commonName = value;
        break;
      case OID.country:
        out.country.push(value);
        break;
      case OID.organization:
        out.organization.push(value);
        break;
      case OID.organizationalUnit:
        out.organizationalUnit.push(value);
        break;
      case OID.locality:
        out.locality.push(value);
        break;
      case OID.province:
        out.province.push(value);
        break;
    }
  }
  return out;
}

const SHORT_NAMES: Record<string, string> = {
  [OID.commonName]: "CN",
  [OID.country]: "C",
  [OID.organization]: "O",
  [OID.organizationalUnit]: "OU",
  [OID.locality]: "L",
  [OID.province]: "ST",
};

/** One-line rendering in encoding order, e.g. `O=Org,OU=OrgUnit,...,CN=<id>` (for logs and admin state). */
export function formatName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((attribute) => `${SHORT_NAMES[attribute.type] ?? attribute.type}=${stringValue(attribute.value) ?? "#"}`)
    .join(",");
}
