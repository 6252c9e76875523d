/**
 * `github-deploy` → `GithubDeploy`: a configured name (trigger, chat destination) as it appears
 * in construct ids and output keys. Every run of characters other than letters and digits
 * separates words; each word's first letter is upper-cased and the rest kept.
 */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => (part[0] as string).toUpperCase() + part.slice(1))
    .join('');
}
