import { SendMessageCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { BusEntry } from '../shared/contract';
import { toSpoolMessage } from '../shared/spool-message';
import type { Spool } from './ports';

/** Spools an entry the bus refused to the SQS queue the redrive function drains. */
export class SqsSpool implements Spool {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async put(entry: BusEntry): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, ...toSpoolMessage(entry) }));
  }
}

/** A spool with its own client: what the verify handler loads the first time EventBridge fails. */
export function createSqsSpool(config: SQSClientConfig, queueUrl: string): SqsSpool {
  return new SqsSpool(new SQSClient(config), queueUrl);
}
