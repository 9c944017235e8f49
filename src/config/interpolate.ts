// ${VAR} and ${VAR:-default} in string values, resolved from an environment map.

const REFERENCE_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface Unresolved {
  path: string;
  variable: string;
}

// Walks a parsed config and replaces references; unknown variables are collected, not thrown. Strings at
// paths `keep` accepts stay as written (shell commands: the shell expands them from the environment).
export function interpolate<T>(value: T, env: Record<string, string | undefined>, missing: Unresolved[], at = '', keep?: (path: string) => boolean): T {
  if (keep?.(at || '/')) return value;
  if (typeof value === 'string') {
    return value.replace(REFERENCE_RE, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      if (found === undefined) missing.push({ path: at || '/', variable: name });
      return '';
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, env, missing, `${at}/${index}`, keep)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolate(item, env, missing, `${at}/${key}`, keep);
    return out as T;
  }
  return value;
}
