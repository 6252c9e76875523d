import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { stateTable } from '../../../lib/constructs/state-table';

const tableOf = (options?: { sortKey?: boolean }) => {
  const stack = new Stack(new App(), 'StateTable');
  stateTable(stack, 'State', options);
  return Template.fromStack(stack);
};

describe('stateTable', () => {
  it.each([
    ['a partition key only', undefined, [{ AttributeName: 'pk', KeyType: 'HASH' }]],
    [
      'a sort key with sortKey',
      { sortKey: true },
      [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    ],
  ])('is an on-demand table with TTL on expiresAt and point-in-time recovery, %s', (_, options, keys) => {
    const template = tableOf(options);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: keys,
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is removed with the stack (its state rebuilds itself from new events)', () => {
    tableOf().hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });
});
