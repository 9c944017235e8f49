// TypeScript shapes of the validated configuration; they mirror src/config/schema/*.json.

export interface Retention {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

export interface Timeouts {
  part?: number;
  killAfter?: number;
}

export interface RepositoryConfig {
  provider: string;
  url?: string;
  passwordFile?: string;
  passwordCommand?: string;
  env?: Record<string, string>;
  cacert?: string;
  upload?: string;
  compression?: 'zstd' | 'gzip' | 'none';
  // tar: age encryption (plugins/tar/age.ts): a passphrase (passwordFile/passwordCommand) or recipients.
  encryption?: 'age' | 'none';
  recipients?: string[];
  identityFile?: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  partSize?: number;
  queueSize?: number;
  // S3: attempts after the first per request, first backoff delay (seconds), inactivity timeout (seconds).
  retries?: number;
  retryDelay?: number;
  timeout?: number;
  options?: Record<string, unknown>;
  // restic, borg: how often the space of forgotten snapshots is freed ("7d" when not set).
  prune?: { every?: string | number };
}

export interface NotifyConfig {
  // Exactly one of webhook, ntfy, sendmail, command.
  webhook?: string;
  format?: 'healthchecks' | 'json';
  ntfy?: string;
  priority?: 'min' | 'low' | 'default' | 'high' | 'urgent';
  sendmail?: { to: string; from?: string; command?: string };
  command?: string;
  // Seconds one ping may take (default 5).
  timeout?: number;
  // Only runs of these modules (default: every module).
  modules?: string[];
  // Which actions ping (default: backup).
  actions?: Array<'backup' | 'verify' | 'restore'>;
}

// Restore drills on a schedule (module.yaml `verify:`, or defaults.verify).
export interface VerifySettings {
  schedule?: string;
}

export interface GlobalConfig {
  host?: string;
  repositories: Record<string, RepositoryConfig>;
  defaults: { schedule?: string; verify?: VerifySettings; retention?: Retention; timeouts?: Timeouts };
  notify: NotifyConfig[];
}

export interface ServiceConfig {
  systemd?: string;
  container?: string;
  engine?: 'docker' | 'podman';
  stop?: string;
  start?: string;
  isActive?: string;
  stopDuringBackup?: boolean;
}

// Common to every database entry: the dump's file name part and whether it may stream.
export interface DatabaseCommon {
  // The <name> in databases/<engine>-<name>.<ext> (default: the database name, db<N>, the file's base name).
  name?: string;
  // false: always stage the dump in the state dir, even when the repository could take a stream.
  stream?: boolean;
}
export interface PostgresDatabase extends DatabaseCommon {
  database: string;
  host?: string;
  port?: number;
  user?: string;
  passwordFile?: string;
  passwordEnv?: string;
  // Extra arguments for the dump tool (pg_dump, mariadb-dump) and for the loader (pg_restore, mariadb).
  options?: string[];
  loadOptions?: string[];
  // false: `verify` only reads the dump back instead of loading it into a scratch database.
  scratch?: boolean;
}
export type MysqlDatabase = PostgresDatabase;
export interface RedisDatabase extends DatabaseCommon {
  url?: string;
  keys?: string[];
  passwordFile?: string;
  passwordEnv?: string;
  // false: `verify` only reads the dump back instead of loading it into a throwaway redis-server.
  scratch?: boolean;
}
export interface SqliteDatabase extends DatabaseCommon {
  path: string;
}
export type DatabaseConfig =
  | { postgres: PostgresDatabase }
  | { mysql: MysqlDatabase }
  | { redis: RedisDatabase }
  | { sqlite: SqliteDatabase };

export interface ModuleFile {
  folders?: string[];
  exclude?: string[];
  service?: ServiceConfig;
  databases?: DatabaseConfig[];
  repositories?: string[];
  schedule?: string;
  verify?: VerifySettings;
  retention?: Retention;
  timeouts?: Timeouts;
  enabled?: boolean;
  // Octal, as written in module.yaml ("022").
  umask?: string;
}

// A module after loading: its file plus everything derived from the root and the state dir.
export interface ModuleConfig {
  name: string;
  dir: string;
  file: string;
  folders: string[];
  exclude: string[];
  service?: ServiceConfig;
  databases: DatabaseConfig[];
  repositories: string[];
  schedule?: string;
  verify: VerifySettings;
  retention: Retention;
  timeouts: { part: number; killAfter: number };
  enabled: boolean;
  // For parts and script-provider tools (default 0o022, as run-parts).
  umask: number;
  env: Record<string, string>;
  envFile: string;
  stateDir: string;
}

export interface RootConfig {
  root: string;
  stateDir: string;
  file?: string;
  global: GlobalConfig;
  rootEnv: Record<string, string>;
  host: string;
  moduleNames: string[];
  // Stray entries in modules/ that were skipped (shown once as warnings).
  warnings?: string[];
}
