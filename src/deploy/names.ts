/**
 * Checks for the user-given names that end up in manifests: container image references (the grammar of
 * the OCI distribution reference, github.com/distribution/reference), Kubernetes object names
 * (RFC 1035/1123 labels) and quantities. Each failure is a one-line `TrainferError` naming the flag.
 */
import { TrainferError } from '../util/errors.js';

// distribution/reference grammar (reference.go), transcribed:
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain '/'] remote-name;  domain := host [':' port-number]
//   path-component := [a-z0-9]+ (separator [a-z0-9]+)*;  separator := [_.] | '__' | '-'+
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** A parsed image reference. */
export interface ImageReference {
  /** Repository with its registry, e.g. `ghcr.io/acme/trainfer`. */
  name: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses an image reference such as `trainfer:0.1.0`, `ghcr.io/acme/trainfer@sha256:…` or
 * `localhost:5000/trainfer`. Throws a one-line error naming `flag` for anything a container runtime
 * would refuse (upper-case repository, empty tag, spaces, a scheme).
 */
export function parseImageReference(value: string, flag = '--image'): ImageReference {
  const bad = (why: string) => new TrainferError(`${flag}: '${value}' is not a valid image reference: ${why}`);
  if (value.length === 0) throw bad('it is empty');
  if (/\s/.test(value)) throw bad('it contains white space');
  if (/^[a-z]+:\/\//i.test(value)) throw bad('drop the scheme (an image reference is registry/repository[:tag], not a URL)');
  const m = REFERENCE.exec(value);
  if (!m) {
    const nameOnly = value.split('@')[0]!.replace(/:[^/]*$/, '');
    const remote = nameOnly.includes('/') && /[.:]|^localhost$/.test(nameOnly.split('/')[0]!) ? nameOnly.split('/').slice(1).join('/') : nameOnly;
    if (/[A-Z]/.test(remote)) throw bad('the repository name must be lower-case');
    if (/:$/.test(value) || /:@/.test(value)) throw bad('the tag is empty');
    throw bad('expected [registry/]repository[:tag][@digest], e.g. ghcr.io/acme/trainfer:0.1.0');
  }
  if (m[1]!.length > 255) throw bad('the repository name is longer than 255 characters');
  return { name: m[1]!, ...(m[2] ? { tag: m[2] } : {}), ...(m[3] ? { digest: m[3] } : {}) };
}

/**
 * Checks an RFC 1035 label (what Service names must be): lower-case letters, digits and '-', starting
 * with a letter, ending with a letter or digit, at most `maxLength` (≤ 63) characters.
 */
export function checkDns1035Label(value: string, flag: string, maxLength = 63): string {
  if (value.length === 0 || value.length > maxLength || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    throw new TrainferError(`${flag}: '${value}' is not a valid name: use lower-case letters, digits and '-', start with a letter, at most ${maxLength} characters`);
  }
  return value;
}

/** Checks an RFC 1123 label (namespaces): like a 1035 label, but may start with a digit. */
export function checkDns1123Label(value: string, flag: string): string {
  if (value.length === 0 || value.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    throw new TrainferError(`${flag}: '${value}' is not a valid name: use lower-case letters, digits and '-', at most 63 characters`);
  }
  return value;
}

/** Checks an RFC 1123 subdomain (object names such as a PersistentVolumeClaim's). */
export function checkDns1123Subdomain(value: string, flag: string): string {
  const label = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
  if (value.length === 0 || value.length > 253 || !new RegExp(`^${label}(\\.${label})*$`).test(value)) {
    throw new TrainferError(`${flag}: '${value}' is not a valid name: use lower-case letters, digits, '-' and '.', at most 253 characters`);
  }
  return value;
}

/** Checks a Kubernetes resource quantity such as `500m`, `2`, `1.5`, `512Mi`, `2Gi`. */
export function checkQuantity(value: string, flag: string): string {
  if (!/^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/.test(value) || !/[1-9]/.test(value)) {
    throw new TrainferError(`${flag}: '${value}' is not a positive Kubernetes quantity (e.g. 500m, 2, 512Mi, 2Gi)`);
  }
  return value;
}
