// The tar provider's encryption settings (plugins/tar/age.ts) as lifeboat.yaml gives them (README "The tar provider"): checked
// when the configuration is loaded, so a bad combination exits 2 before anything runs. Kept apart from
// age.ts so loading the configuration does not load the age library.
import type { RepositoryConfig } from './types.js';

// The archive name's suffix for an encrypted archive (<id>.tar.zst.age).
export const AGE_EXTENSION = '.age';

// An X25519 recipient as age-keygen prints it: age1 and 58 bech32 characters.
const RECIPIENT = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/;

// Problems with a tar repository's encryption keys, each naming the key and the fix; [] when fine.
// `at` is "<file>: /repositories/<name>". Runs when lifeboat.yaml is loaded (exit 2, nothing done).
export function encryptionProblems(config: RepositoryConfig, at: string): string[] {
  if (config.provider !== 'tar') {
    const stray = (['encryption', 'recipients', 'identityFile'] as const).filter((key) => config[key] !== undefined);
    return stray.map((key) => `${at}/${key} only applies to provider: tar (restic and borg always encrypt); remove it`);
  }
  const password = config.passwordFile !== undefined || config.passwordCommand !== undefined;
  const keys = config.recipients !== undefined || config.identityFile !== undefined;
  const problems: string[] = [];
  if (config.passwordFile !== undefined && config.passwordCommand !== undefined) problems.push(`${at} has passwordFile and passwordCommand; keep one`);
  if (password && keys) {
    problems.push(`${at} has both a passphrase (passwordFile/passwordCommand) and age keys (recipients/identityFile); an age archive uses one or the other: remove one`);
  }
  if (config.encryption === 'none' && (password || keys)) problems.push(`${at}/encryption is none but keys are set; remove passwordFile/passwordCommand/recipients/identityFile, or set encryption: age`);
  if (config.encryption === 'age' && !password && !keys) {
    problems.push(`${at}/encryption is age but no key is set; add passwordFile: /etc/lifeboat/tar.pass (or passwordCommand:), or recipients: [age1...] (age-keygen prints one)`);
  }
  if (config.encryption === undefined && config.upload !== undefined && !password && !keys) {
    problems.push(`${at} uploads archives to S3 unencrypted; add passwordFile: /etc/lifeboat/tar.pass (or passwordCommand:, or recipients: [age1...]), or say encryption: none to upload plaintext on purpose`);
  }
  (config.recipients ?? []).forEach((recipient, index) => {
    if (!RECIPIENT.test(recipient)) problems.push(`${at}/recipients/${index} is not an age X25519 recipient (age1 and 58 characters), got ${JSON.stringify(recipient.slice(0, 70))}; copy the "public key" line age-keygen printed`);
  });
  return problems;
}
