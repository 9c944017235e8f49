// The environment Lifeboat's own tools run with (restic, borg, the database clients, redis-server):
// Lifeboat's process environment and the variables each tool is given on purpose, never the values of
// environment files. Those come back from a repository with a restore, which is untrusted storage: a
// restored OPENSSL_CONF, MARIADB_HOME, PYTHONUSERBASE or HOME must not decide what a tool running as
// root loads. Parts and script providers get the environment files, as the README promises them.
// `extra` entries that are undefined leave Lifeboat's value in place (PATH from a caller that has none).
// PATH may come from the caller's context: environment files cannot set it (they are refused there).
export function toolEnvironment(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

// Where tools are looked up: Lifeboat's own PATH.
export function toolPath(): string {
  return process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}
