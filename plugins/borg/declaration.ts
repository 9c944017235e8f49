// The borg provider's declaration (ARCHITECTURE.md "Providers"): read by the registry and `check`
// without loading the provider.
import type { ProviderDeclaration } from '../../src/providers/types.js';

export const declaration: ProviderDeclaration = {
  kind: 'borg',
  capabilities: { forget: true, check: true, streams: true },
  restoresIntoTarget: true,
  tools: () => [{ tool: 'borg', package: 'borgbackup' }],
};
