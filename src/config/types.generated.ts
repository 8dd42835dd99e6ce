/* Generated from schema/config.schema.json by `npm run gen:types`. Do not edit. */

export type TagRules = {
  keys?: Keys;
  regex?: Regex;
} & TagRules1;
/**
 * Comma-separated literal substrings (trimmed, empty items ignored), or a list of them.
 */
export type Keys = string | null | string[];
/**
 * An RE2 regular expression, unanchored; or a list of them (any may match).
 */
export type Regex = string | null | string[];
export type TagRules1 = {
  keys?: Keys;
  regex?: Regex;
} | null;
/**
 * regmgr addition: among the candidates that no rule claims, keep those created within this age.
 */
export type Duration = string;
/**
 * Selector: keys and/or regex, the same forms as include.
 */
export type TagRules2 = {
  keys?: Keys;
  regex?: Regex;
} & ({
  keys?: Keys;
  regex?: Regex;
} | null);
/**
 * Keep candidates of this group created within this age.
 */
export type Duration1 = string;

/**
 * regmgr configuration. Accepts the registry-manager config format unchanged.
 */
export interface RegmgrConfig {
  /**
   * All image registries, by a name of your choice (case-sensitive): letters, digits, '.', '_', '-'.
   */
  registries: {
    [k: string]: Registry;
  };
  'delete-policy'?: DeletePolicy;
  'sync-policy'?: SyncPolicy;
  /**
   * Where regmgr records the snapshot it last saw. Relative paths are relative to the config file.
   */
  state?: {
    /**
     * The state file (backend file). With backend pg: where the journal and saved manifests of applies are kept on this machine too.
     */
    path?: string;
    /**
     * regmgr addition: file (default): a state file and a lock beside it, for one machine. pg: the state, its history, a lock across machines (PostgreSQL advisory lock) and the journals of applies in a PostgreSQL database.
     */
    backend?: 'file' | 'pg';
    /**
     * backend pg: the name this config's state has in the database; several configs share one database under different workspaces.
     */
    workspace?: string;
    /**
     * backend pg: the environment variable holding the connection string (postgres://user:password@host:port/db). Never the connection string itself: a password does not belong in a config file.
     */
    'connection-env'?: string;
  };
}
export interface Registry {
  /**
   * Registry address: https://host[:port] or http://host[:port] (plain HTTP). A bare host means https.
   */
  registry: string;
  /**
   * User name; ${VAR} reads the environment. A number is read as written (YAML 0123 stays 0123).
   */
  username?: string | number | null;
  /**
   * Password or token; ${VAR} reads the environment. A number is read as written. Without it, credentials come from the containers/docker auth files.
   */
  password?: string | number | null;
  /**
   * Skip TLS certificate verification.
   */
  insecure?: boolean;
  /**
   * Repositories to work on; 'repo:tag' selects one image. When omitted, the registry catalog is read.
   */
  repositories?: string[] | null;
  /**
   * Most requests in flight to this registry at once.
   */
  concurrency?: number;
  /**
   * Seconds (a whole number or a decimal, at least 1) that one request may take, connect, headers and body together, before it is abandoned.
   */
  timeout?: number;
  /**
   * Most tags one repository may list (and most repositories the catalog may list); past it the plan fails instead of reading on. Bounds memory and endless pagination.
   */
  'max-tags'?: number;
  /**
   * How a tag is removed when its digest must stay (another tag or a kept multi-arch index needs it): untag (PUT a unique empty manifest to the tag, then DELETE that; works wherever manifest deletion does), oci (DELETE by tag, OCI distribution 1.1: distribution 3, zot, GitLab), never (block such deletes). auto: untag.
   */
  'tag-delete'?: 'auto' | 'oci' | 'untag' | 'never';
  /**
   * regmgr addition: which repositories the bytes a plan frees are counted over. repositories (default): those the plan reads; with a repositories list the figure is then an upper bound (a layer shared with an unlisted repository stays). registry: every repository of the catalog is read too, for the manifests it references only (no decision is made there), so the figure is exact; needs the catalog.
   */
  'reclaim-scope'?: 'repositories' | 'registry';
  /**
   * regmgr addition: how regmgr talks to this registry where the OCI API falls short. oci (default; ghcr.io is taken as ghcr, registry.gitlab.com as gitlab): the OCI distribution API alone. harbor: Harbor 2.x's API (/api/v2.0) lists the projects' repositories and deletes tags and artifacts. ghcr: GitHub's Packages REST API lists an owner's container packages and deletes package versions (a token in GITHUB_TOKEN, or the password). gitlab: GitLab's container registry API lists a group's or project's repositories and deletes single tags (a token in GITLAB_TOKEN, CI_JOB_TOKEN in CI, or the password).
   */
  kind?: 'oci' | 'harbor' | 'ghcr' | 'gitlab';
  /**
   * regmgr addition: the vendor API's base URL: for harbor, default <registry>/api/v2.0; for ghcr, default https://api.github.com (GitHub Enterprise: https://HOST/api/v3); for gitlab, https://GITLAB-HOST/api/v4 (default https://gitlab.com/api/v4 for registry.gitlab.com).
   */
  api?: string;
  /**
   * regmgr addition: kind ghcr: the user or organisation whose container packages are listed; kind gitlab: the group or project (full path) whose registry repositories are listed; when no repositories are given.
   */
  owner?: string;
  /**
   * regmgr addition: allow plans to delete every tag of a repository of this registry, or every keep-like tag (latest, stable, main, master, prod, production, release). Off: such deletes are blocked in the plan with the reason.
   */
  'allow-empty-repository'?: boolean;
  /**
   * regmgr addition: a PEM file of CA certificates that this registry's TLS certificate is checked against (for a private CA or a self-signed certificate), instead of turning verification off. Relative paths are relative to the config file.
   */
  'ca-file'?: string;
}
export interface DeletePolicy {
  /**
   * Registry names to delete from.
   *
   * @minItems 1
   */
  registries: [string, ...string[]];
  /**
   * Skip the first N repositories of each registry (compatibility).
   */
  start?: number;
  /**
   * For the 'delete' command: only show what would happen.
   */
  'dry-run'?: boolean;
  /**
   * Among a repository's delete candidates that no rule claims, keep the N newest.
   */
  'mix-count'?: number;
  /**
   * Tags that are not semantic versions become delete candidates.
   */
  'sem-ver'?: boolean;
  tags?: {
    include?: TagRules;
    exclude?: TagRules;
  } | null;
  'keep-within'?: Duration;
  /**
   * regmgr addition: allow the delete policy to delete every tag of a repository, or every keep-like tag (latest, stable, main, master, prod, production, release). Off: such deletes are blocked in the plan with the reason.
   */
  'allow-empty-repository'?: boolean;
  /**
   * regmgr addition: files that say what is deployed; an image in use is never deleted. Each is the JSON of `kubectl get pods -A -o json`, of `docker inspect` or `docker ps --format '{{json .}}'`, or a list of references (host/repo:tag or host/repo@sha256:...), one per line. Relative paths are relative to the config file. A missing or unreadable file fails the plan.
   */
  'keep-in-use'?: string | [string, ...string[]];
  /**
   * regmgr addition: ordered retention rules; a candidate belongs to the first rule whose selector matches it.
   */
  rules?: RetentionRule[];
}
/**
 * A group of delete candidates, by tag (and repository), with what to keep of it.
 */
export interface RetentionRule {
  tags: TagRules2;
  /**
   * Globs over repository names ('*' within a path segment, '**' across segments); default every selected repository.
   *
   * @minItems 1
   */
  repositories?: [string, ...string[]];
  /**
   * Keep the N newest candidates of this group, per repository.
   */
  'keep-newest'?: number;
  'keep-within'?: Duration1;
}
export interface SyncPolicy {
  /**
   * Source registry name.
   */
  from: string;
  /**
   * Target registry name.
   */
  to: string;
  start?: number;
  'dry-run'?: boolean;
  /**
   * Copy every selected tag even when the target already has its digest.
   */
  force?: boolean;
  /**
   * regmgr addition: delete from each target repository the tags that match the filters and are no longer in the source, so the mirror converges. Tags outside the filters are never touched. Prune deletes get the same safety as policy deletes.
   */
  prune?: boolean;
  /**
   * regmgr addition: allow prune to delete every tag of a target repository (or every keep-like tag). Off: such deletes are blocked in the plan.
   */
  'allow-empty-repository'?: boolean;
  replace?:
    | {
        old: string | null;
        new: string | null;
      }[]
    | null;
  /**
   * RE2 regexes, unanchored; a tag is synced when any matches. Default: all tags.
   */
  filters?: string[] | null;
}
