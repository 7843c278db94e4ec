/** The Vite output directory: dashboard.html (the hub's page), console.html (a store's page), assets/. */
export declare const distDir: string;
/** How to make it, for the answer a server gives at / when it is missing. */
export declare const buildHint: string;
