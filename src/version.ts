/** The package version, reported as `sdk_version` on every event (test/semconv.test.ts keeps it equal to package.json). */
export const SDK_VERSION = '0.1.0';
/** The ALM event schema version alm-otel emits (the reference SDK's schema 1.0). */
export const SCHEMA_VERSION = '1.0';
