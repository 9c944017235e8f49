// JS plugins: plugins/<name>/index.js exports createProvider(input) or the operations themselves.
import { LifeboatError } from '../errors.js';
import type { Provider, ProviderFactory, ProviderInput } from './types.js';

// Accepts either a factory export or create/list/restore (and optional forget/check) function exports;
// forget(module, snapshots, options) deletes exactly the snapshots given, as a script's `forget` does.
export function adaptJsPlugin(kind: string, loaded: Record<string, unknown>, input: ProviderInput, file: string): Provider {
  if (typeof loaded.createProvider === 'function') return (loaded.createProvider as ProviderFactory)(input);
  const missing = ['create', 'list', 'restore'].filter((op) => typeof loaded[op] !== 'function');
  if (missing.length) {
    throw new LifeboatError('UNKNOWN_REPOSITORY', `${file}: a JS provider exports createProvider, or create, list and restore; missing ${missing.join(', ')}`);
  }
  const call = (op: string) => (...args: unknown[]) => (loaded[op] as (...a: unknown[]) => unknown)(...args, input);
  return {
    kind,
    capabilities: { forget: typeof loaded.forget === 'function', check: typeof loaded.check === 'function' },
    create: call('create') as Provider['create'],
    list: call('list') as Provider['list'],
    restore: call('restore') as Provider['restore'],
    forget: typeof loaded.forget === 'function' ? (call('forget') as Provider['forget']) : undefined,
    check: typeof loaded.check === 'function' ? (call('check') as Provider['check']) : undefined,
  };
}
