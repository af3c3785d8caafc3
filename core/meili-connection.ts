/** Where a running Meilisearch can be reached (the key never leaves the server). */
export interface MeiliConnection {
  host: string;
  apiKey: string;
}
