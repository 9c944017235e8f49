// SIGINT/SIGTERM handling for actions: the first signal aborts the running part (forwarded to its process
// group) and the always-phases still run; the process exits only when the runner is done.
let controller: AbortController | undefined;

// Installs the handlers once and returns the signal every runner listens to.
export function interruptSignal(onSignal?: (signal: NodeJS.Signals) => void): AbortSignal {
  if (controller) return controller.signal;
  const current = new AbortController();
  controller = current;
  const handle = (signal: NodeJS.Signals) => {
    onSignal?.(signal);
    if (!current.signal.aborted) current.abort(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return current.signal;
}
