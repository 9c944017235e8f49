// Snapshot kinds: a `backup` (what `lifeboat backup` made) or a `safety` snapshot (the state an in-place
// restore replaced, tagged `lifeboat-safety`). Decided here only, from the tags, for every provider.
import type { Provider, ProviderSnapshot, SnapshotKind } from './types.js';

// The tag that marks a safety snapshot (05safety_snapshot sets it; script providers get it back from
// the record Lifeboat keeps, see script.ts).
export const SAFETY_TAG = 'lifeboat-safety';

// The kind of a snapshot, from its tags.
export function kindOf(snapshot: Pick<ProviderSnapshot, 'tags'>): SnapshotKind {
  return snapshot.tags.includes(SAFETY_TAG) ? 'safety' : 'backup';
}

// The snapshot with its `kind` set.
export function withKind(snapshot: ProviderSnapshot): ProviderSnapshot {
  return { ...snapshot, kind: kindOf(snapshot) };
}

// Wraps a provider so every snapshot it lists or creates carries its kind; the registry wraps every
// provider it opens (built-ins, JS plugins, script folders) with it.
export function withSnapshotKinds(provider: Provider): Provider {
  return {
    kind: provider.kind,
    capabilities: provider.capabilities,
    create: async (options) => {
      const result = await provider.create(options);
      return { ...result, snapshot: withKind(result.snapshot) };
    },
    list: async (module, options) => (await provider.list(module, options)).map(withKind),
    restore: (options) => provider.restore(options),
    unlisted: provider.unlisted ? (module, ref) => provider.unlisted!(module, ref) : undefined,
    forget: provider.forget ? (module, snapshots, options) => provider.forget!(module, snapshots, options) : undefined,
    prune: provider.prune ? (module, options) => provider.prune!(module, options) : undefined,
    check: provider.check ? (module, options) => provider.check!(module, options) : undefined,
    preflightRestore: provider.preflightRestore ? (module, snapshot, options) => provider.preflightRestore!(module, snapshot, options) : undefined,
    preflightBackup: provider.preflightBackup ? (options) => provider.preflightBackup!(options) : undefined,
    leftovers: provider.leftovers ? (module, options) => provider.leftovers!(module, options) : undefined,
    sizeProblems: provider.sizeProblems ? (module, options) => provider.sizeProblems!(module, options) : undefined,
    holdsSnapshots: provider.holdsSnapshots ? (module, options) => provider.holdsSnapshots!(module, options) : undefined,
    sweep: provider.sweep ? (module, options) => provider.sweep!(module, options) : undefined,
  };
}
