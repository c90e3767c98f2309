/**
 * Placeholder while the module is built (issue tracker): it exports nothing yet.
 *
 * @module
 */
export {};
