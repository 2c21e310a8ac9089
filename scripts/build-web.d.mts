/** Builds the web console's page into `outDir` (default dist/web); resolves with the hashed asset names. */
export function buildWeb(outDir?: string): Promise<{ js: string; css: string }>;
