/** Where a running Meilisearch can be reached (the key never leaves the server). */
export interface MeiliConnection {
  host: string;
  apiKey: string;
  /**
   * The engine's process id, where this process can see it (the supervisor's child, or the running
   * appliance's): lets a long wait tell a busy engine (using CPU) from a stopped one.
   */
  pid?: () => number | undefined;
}
