// File names of dumps inside a module's state dir: databases/<engine>-<name>.<ext>. A name keeps letters,
// digits, dot, underscore and hyphen; any other byte becomes %XX, so every database name maps to exactly
// one file name and back.

export const DUMP_DIR = 'databases';

export const EXTENSIONS = {
  postgres: '.pgdump',
  postgresGlobals: '.sql',
  mysql: '.sql',
  redis: '.redis',
  sqlite: '.sqlite3',
} as const;

// Encodes a database name for a file name (never empty, never . or ..).
export function encodeName(name: string): string {
  const encoded = [...Buffer.from(name, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9._-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  if (encoded === '' || encoded === '.' || encoded === '..') return encoded.replace(/\./g, '%2E') || '%';
  return encoded;
}

// Decodes a file-name part back into the database name.
export function decodeName(encoded: string): string {
  if (encoded === '%') return '';
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%' && /^[0-9A-F]{2}$/i.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}
