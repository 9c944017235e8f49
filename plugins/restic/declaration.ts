// The restic provider's declaration (ARCHITECTURE.md "Providers"): read by the registry and `check`
// without loading the provider.
import type { ProviderDeclaration } from '../../src/providers/types.js';

export const declaration: ProviderDeclaration = {
  kind: 'restic',
  capabilities: { forget: true, check: true, streams: true },
  restoresIntoTarget: true,
  tools: () => [{ tool: 'restic' }],
};
