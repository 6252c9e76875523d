#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConfigError, consumerSummary, loadConfig } from '../lib/config';
import { KitebridgeStack } from '../lib/kitebridge-stack';

const app = new App();

let config;
try {
  config = loadConfig(app.node);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

// stderr: under `cdk synth`, stdout carries the template.
console.error(consumerSummary(config));

new KitebridgeStack(app, config.stackName, {
  config,
  description: 'kitebridge: verified Buildkite webhooks on an EventBridge bus',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
