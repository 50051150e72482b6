/** Options of `StormAdminModule.register()`. */
export interface StormAdminOptions {
  /** URL path of the page; its JSON endpoints live under `<path>/api/` (default `/storm-admin`). */
  path?: string;
  /**
   * Decides whether a request may see the dashboard (page and JSON endpoints); gets the platform's
   * request object (Express `req` or Fastify request). Required: the page lists sessions and
   * closes them.
   */
  auth: (request: unknown) => boolean | Promise<boolean>;
  /** Time between two message-rate samples, in ms (default 5000). */
  sampleInterval?: number;
  /** Samples kept for the chart (default 120: ten minutes at the default interval). */
  samples?: number;
}

/** @internal */
export const STORM_ADMIN_OPTIONS = Symbol('STORM_ADMIN_OPTIONS');
