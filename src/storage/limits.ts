// Bounds on what Lifeboat reads back from a repository or a bucket (untrusted storage): a server or a
// folder that answers with more than this is refused while reading, before it can fill memory or disk.

// A manifest (or any small object read whole into memory).
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
// One response body the SDK reads whole (a listing page, an error, a CompleteMultipartUpload answer):
// S3 sends at most 1,000 keys per page, well under 1 MiB.
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
// Keys in one listing page (S3's own maximum is 1,000).
export const MAX_LIST_PAGE_KEYS = 10_000;
// Keys in one whole listing (all pages of one prefix).
export const MAX_LIST_KEYS = 1_000_000;
