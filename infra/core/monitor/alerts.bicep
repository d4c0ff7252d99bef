// Alert rules for what the admin must act on, sent to one action group that e-mails the admin.
// Log alerts (scheduled query rules) on Application Insights: the signals are the Functions host's request
// records (one per function execution, never sampled: host.json excludes Request) and the app's warnings.
// Storage queue metrics count messages per account, not per queue, so the poison queue is watched through
// the safety-net's warning that it set aside messages (docs/deploy.md, "Runbook").
param location string
param tags object = {}
param actionGroupName string
param applicationInsightsId string

@description('E-mail address that receives the alerts. Empty: the alerts fire in Azure Monitor but e-mail nobody.')
param alertEmailAddress string = ''

@description('Failed sync runs (sync_user executions) in one hour that raise the "failed runs" alert.')
@minValue(0)
param failedRunsPerHour int = 5

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'calsync'
    enabled: true
    emailReceivers: empty(alertEmailAddress) ? [] : [
      {
        name: 'tenant-admin'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

// Each query names the function or quotes the warning it counts (a halted mass deletion is logged as
// "sync issue for user …: mass_delete: …", shared/sync/issues.py); tests/infra checks that these texts
// still occur in the code, so renaming a function or rewording a warning cannot silence an alert.
var queries = {
  failedRuns: 'requests | where name == "sync_user" and success == false'
  poisonQueue: 'traces | where message contains "had failed on every try"'
  subscriptionFailures: 'traces | where message contains "could not create or renew the Graph subscription" or message contains "could not list the Graph subscriptions"'
  massDeletion: 'traces | where message contains ": mass_delete: "'
}

resource failedRuns 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-failed-runs-${uniqueString(applicationInsightsId)}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Calendar sync: failed sync runs'
    description: 'More sync runs failed in the last hour than the threshold. The Issues table (row "run" of each user) and the status page say why; see the runbook in docs/deploy.md.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: queries.failedRuns
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: failedRunsPerHour
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource poisonQueue 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-poison-queue-${uniqueString(applicationInsightsId)}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Calendar sync: sync requests set aside (poison queue)'
    description: 'A sync request failed on every try and was moved to the poison queue; the safety net listed it for the admin. See the runbook in docs/deploy.md.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: queries.poisonQueue
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource subscriptionFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-subscription-failures-${uniqueString(applicationInsightsId)}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Calendar sync: Graph subscriptions cannot be created or renewed'
    description: 'The hourly subscription upkeep failed for a user or could not list the subscriptions; changes then arrive only through the 15-minute safety net. See the runbook in docs/deploy.md.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: queries.subscriptionFailures
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource massDeletion 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-mass-deletion-${uniqueString(applicationInsightsId)}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Calendar sync: mass deletion halted (R11)'
    description: 'A run saw most of a user\'s linked items gone at once and deleted nothing; that user\'s sync waits for the admin. See the runbook in docs/deploy.md.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: queries.massDeletion
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
