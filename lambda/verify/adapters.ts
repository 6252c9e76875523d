/**
 * The verify function's fallback adapters (SDK-backed). Each lives in its own module so the
 * handler can load it on first use (a dynamic `import()`, a separate chunk in the bundle): the
 * SQS and S3 clients cost cold-start time and most requests never need them. Do not import this
 * module from `handler.ts`: a static import would put both clients back on the cold path.
 */
export { SqsSpool } from './sqs-spool';
export { S3BodyStore } from './s3-body-store';
