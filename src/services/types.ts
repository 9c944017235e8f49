// The service contract: what a run needs to stop a module's service around a backup or restore and start it again.
import type { Logger } from '../log/logger.js';

export interface ServiceController {
  // A short name for messages: `systemd unit linkding.service`, `container linkding (docker)`.
  describe(): string;
  isActive(): Promise<boolean>;
  // Resolves only once isActive() reports the service stopped; otherwise throws naming the service.
  stop(): Promise<void>;
  // Resolves only once isActive() reports the service running; otherwise throws naming the service.
  start(): Promise<void>;
}

export interface ServiceContext {
  // The environment commands run with (the module's part environment).
  env: Record<string, string>;
  log: Logger;
  // Aborts a running command (a part's timeout); its process is terminated.
  signal?: AbortSignal;
  // Prints the commands instead of running them; isActive() then answers true.
  dryRun?: boolean;
  cwd?: string;
  // The module the service belongs to, named in messages about stop/start/isActive commands.
  module?: string;
  // How long stop/start may take to show in isActive() before it is an error (default 10).
  // After a stop signal (timeout, Ctrl-C), how long a command may go on before SIGKILL (the module's
  // timeouts.killAfter; 10 s when not given).
  killAfterMs?: number;
  settleSeconds?: number;
  // The umask the `stop`, `start` and `isActive` commands run with (the module's `umask:`); undefined: the
  // part environment's LIFEBOAT_UMASK, else 022, as parts and script providers.
  umask?: number;
}

// One kind of service (systemd, container, commands): raw operations, checked afterwards by openService.
export interface ServiceBackend extends ServiceController {
  // What to look at when the service does not reach the wanted state.
  readonly hint: string;
}
