import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import * as path from 'node:path';
import { KITE_BUNDLING, splitBuildCommand } from './kite-bundling';

export interface KiteFunctionProps {
  /** Path of the handler module; it must export `handler`. */
  readonly entry: string;
  /** The function's description in the Lambda console. */
  readonly description: string;
  /**
   * Environment variables, beside `POWERTOOLS_LOG_LEVEL` (INFO, which these may override).
   * @default only POWERTOOLS_LOG_LEVEL
   */
  readonly environment?: Record<string, string>;
  /** Days to keep the function's logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /** Memory in MB, 128 to 10240 (Lambda's bounds; CPU grows with it). @default 512 */
  readonly memorySize?: number;
  /** How long one invocation may run, up to Lambda's 15 minutes. @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /**
   * Split the bundle at the handler's dynamic `import()`s: `index.mjs` keeps only what the
   * handler imports statically, and each lazily imported module becomes its own chunk (with its
   * own source map), read only when the code first reaches that `import()`; a lazily imported
   * `./aws-*` adapter is built as a bundle of its own (`aws-<name>.mjs`), so none of its client's
   * code lands on the startup path (`splitBuildScript`). NodejsFunction cannot split by itself,
   * so an `afterBundling` hook rebuilds the entry with the same esbuild options into the asset
   * directory (about one more second of synth).
   * @default false
   */
  readonly codeSplitting?: boolean;
  /** Any other NodejsFunction setting; it wins over the defaults above. @default none */
  readonly overrides?: Partial<NodejsFunctionProps>;
}

/**
 * Every kitebridge function's defaults in one place: Node.js 24 on arm64, X-Ray tracing,
 * JSON logs into an explicit log group with retention (and a role that may write only there), an ESM bundle (minified, AWS SDK
 * bundled, source maps) built with the local esbuild, never Docker; optionally split at dynamic
 * `import()`s (`codeSplitting`).
 */
export class KiteFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: KiteFunctionProps) {
    const entry = path.resolve(props.entry);
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `kitebridge ${id} function`,
    });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      environment: {
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: props.codeSplitting
        ? {
            ...KITE_BUNDLING,
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              // Overwrites index.mjs(.map) from NodejsFunction's single-file build and adds the chunks.
              afterBundling: (_inputDir: string, outputDir: string) => [
                splitBuildCommand(KITE_BUNDLING, entry, outputDir),
              ],
            },
          }
        : KITE_BUNDLING,
      ...props.overrides,
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the X-Ray actions added by active tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), which support no resource-level permissions; the infra tests assert no other action has Resource "*".',
    });
  }
}
