import { quoted } from '../util/inert.js';

// Repository names, tags and digests are validated once, here, before any URL is built:
// Node's URL parser collapses `..` and the registry redirects such paths elsewhere
// (registry-facts.md), so a raw string must never reach a request.

// The distribution spec's grammar for a repository name: path components of lower-case
// alphanumerics joined by separators, components joined by '/'.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export type Repository = string & { readonly __brand: 'Repository' };
export type Tag = string & { readonly __brand: 'Tag' };
export type Digest = string & { readonly __brand: 'Digest' };

/** Returns why `name` is not a valid repository name, or undefined when it is. */
export function repositoryProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 255) return 'is longer than 255 characters';
  for (const part of name.split('/')) {
    if (part === '..' || part === '.') return `has a '${part}' path segment`;
    if (!COMPONENT.test(part)) {
      return `has an invalid path component ${quoted(part)} (lower-case letters, digits and single '.', '_', '__' or '-' separators)`;
    }
  }
  return undefined;
}

export function tagProblem(tag: string): string | undefined {
  return TAG.test(tag) ? undefined : `${quoted(tag)} is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`;
}

/** A manifest reference: a tag or a digest. */
export function refProblem(ref: string): string | undefined {
  return isDigest(ref) ? undefined : tagProblem(ref);
}

// RFC 6838 type/subtype (parameters are cut off before this check).
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function mediaTypeProblem(mediaType: string): string | undefined {
  return MEDIA_TYPE.test(mediaType) ? undefined : `${quoted(mediaType)} is not a media type`;
}

export function isDigest(s: string): s is Digest {
  return DIGEST.test(s);
}

export function asRepository(name: string): Repository {
  const problem = repositoryProblem(name);
  if (problem) throw new Error(`invalid repository name ${quoted(name)}: ${problem}`);
  return name as Repository;
}

export function asTag(tag: string): Tag {
  const problem = tagProblem(tag);
  if (problem) throw new Error(problem);
  return tag as Tag;
}

export function asDigest(d: string): Digest {
  if (!isDigest(d)) throw new Error(`${quoted(d)} is not a sha256 digest`);
  return d as Digest;
}

/** A `repositories:` entry: `repo` (all tags) or `repo:tag` (that image only). */
export interface RepoSelector {
  repository: Repository;
  tag?: Tag;
}

export function parseSelector(entry: string): RepoSelector | { problem: string } {
  // The tag separator is the last ':' after the last '/', so `host:5000/x` style names
  // are not misread (they are not valid repository names here anyway).
  const slash = entry.lastIndexOf('/');
  const colon = entry.indexOf(':', slash + 1);
  const repo = colon === -1 ? entry : entry.slice(0, colon);
  const tag = colon === -1 ? undefined : entry.slice(colon + 1);
  if (entry.includes('@')) return { problem: `${quoted(entry)}: digests are not accepted here; name a tag or the repository` };
  const rp = repositoryProblem(repo);
  if (rp) return { problem: `repository ${quoted(repo)} ${rp}` };
  if (tag !== undefined) {
    const tp = tagProblem(tag);
    if (tp) return { problem: tp };
    return { repository: repo as Repository, tag: tag as Tag };
  }
  return { repository: repo as Repository };
}
