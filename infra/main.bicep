// One deployment per customer tenant: Function App (Flex Consumption), storage, identity, Key Vault,
// monitoring. Deploy with `azd up` or `az deployment group create` (docs/deploy.md).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (e.g. the customer tenant); seeds the unique resource names.')
param environmentName string

@description('Region of every resource; must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Object id of whoever puts the secrets into Key Vault (azd fills in the signed-in user). Empty: none.')
param principalId string = ''
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Object id of the tenant admin who reads the sync state tables (Issues …) with Storage Table Data Reader. Empty: none.')
param stateReaderPrincipalId string = ''
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param stateReaderPrincipalType string = 'User'

// --- Alerts ---
@description('E-mail address of the action group that receives the alerts (failed runs, poison queue, subscriptions).')
param alertEmailAddress string = ''
@minValue(0)
@description('Failed sync runs in one hour that raise the "failed runs" alert.')
param failedRunsPerHour int = 5

// --- Hosting ---
@description('Python version of the Function App: the ones Flex Consumption runs. The project is tested on 3.11.')
@allowed([
  '3.10'
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'
@description('Blob container for the deployment package. Empty: derived from the app name.')
param deploymentStorageContainerName string = ''
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

// --- Microsoft Graph (GRAPH_*) ---
@description('Entra tenant of the app registration and the synced mailboxes. Empty: the tenant deployed into.')
param graphTenantId string = ''
@minLength(1)
@description('Application (client) id of the app registration with Calendars.ReadWrite.')
param graphClientId string
@description('Which credential the app registration uses; its value goes into Key Vault.')
@allowed([
  'secret'
  'certificate'
])
param graphCredentialKind string = 'secret'
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'
param graphAuthorityHost string = 'https://login.microsoftonline.com'
@minValue(45)
@maxValue(10080)
param graphSubscriptionMinutes int = 4230

// --- ERP (ERP_*) ---
@minLength(1)
@description('https base URL of the ERP API.')
param erpBaseUrl string
@description('ERP request timeout in seconds (a decimal number).')
param erpTimeoutSeconds string = '20.0'

// --- Sync state ---
param stateTablePrefix string = 'sync'

// --- Tenant sync policy (SYNC_*); defaults equal shared/settings.py ---
@allowed([
  'both'
  'erp_to_m365'
  'm365_to_erp'
])
param syncDirection string = 'both'
@description('Per-user direction overrides: { "user@contoso.com": "erp_to_m365" }.')
param syncDirectionOverrides object = {}
@allowed([
  'meeting'
  'phone_call'
  'task'
])
param syncActivityTypes array = [
  'meeting'
  'phone_call'
  'task'
]
param syncLeaveRequests bool = false
@description('Leave events are private (R30).')
param syncLeavePrivate bool = true
@minValue(1)
@maxValue(365)
param syncWindowDays int = 31
@minValue(0)
@maxValue(720)
param syncErpLookbackHours int = 24
@description('Ties within this many seconds go to M365 (a decimal number).')
param syncClockSkewSeconds string = '2.0'
param syncConflictCategory string = 'Sync conflict'
param syncIncludeCategories array = []
@description('App roles or group object ids whose members may open the status page (/api/status) after signing in.')
param statusPageAdmins array = []
@description('Application (client) id of the app registration admins sign in with (App Service authentication), not the Graph app. Empty: no sign-in, the status page answers 401.')
param statusPageClientId string = ''
param syncExcludeCategories array = []
@allowed([
  'skip'
  'busy'
  'sync'
])
param syncPrivateEvents string = 'skip'
param syncInternalDomains array = []
param syncSkipInternalOnly bool = true
@description('Largest share of a user\'s linked items one run may delete (a decimal number in (0, 1]).')
param syncMassDeleteRatio string = '0.5'
@description('Field ownership per activity type: { "task": ["subject", "when"] }.')
param syncFieldOwnership object = {}

@description('R18: ERP-created item types (meeting, phone_call, task) whose files an Outlook edit may change in the ERP')
param syncOutlookFilesForErpItems array = []

// --- The daily jobs (shared/handlers/daily.py); six-field NCRONTAB schedules in UTC ---
@description('When the close job runs (R29): second minute hour day month day-of-week, UTC.')
param syncCloseSchedule string = '0 0 1 * * *'
@description('When the clean-up job runs: second minute hour day month day-of-week, UTC.')
param syncCleanupSchedule string = '0 30 1 * * *'
@minValue(1)
@maxValue(365)
@description('The close job closes activities that ended within this many days (R29).')
param syncCloseLookbackDays int = 7
@minValue(1)
@maxValue(3650)
@description('Retired links and resolved issues older than this many days are deleted.')
param syncRetentionDays int = 30

// --- Optional initial secret values (else set them in Key Vault by hand, see docs/deploy.md) ---
@secure()
param graphClientSecret string = ''
@secure()
param graphClientCertificate string = ''
@secure()
param graphClientState string = ''
@secure()
param erpApiKey string = ''
@secure()
param erpHookSecret string = ''

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var defaultDeploymentContainer = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deploymentContainer = !empty(deploymentStorageContainerName) ? deploymentStorageContainerName : defaultDeploymentContainer

// Key Vault secret names; the app settings reference these and docs/deploy.md tells the admin to fill them.
var secretNames = {
  graphClientSecret: 'graph-client-secret'
  graphClientCertificate: 'graph-client-certificate'
  graphClientState: 'graph-client-state'
  erpApiKey: 'erp-api-key'
  erpHookSecret: 'erp-hook-secret'
  // The client secret of the status page's sign-in app registration (only with statusPageClientId).
  statusPageClientSecret: 'status-page-client-secret'
}

// Non-secret settings the code reads (shared/settings.py). Numbers and lists are written the way
// the settings model parses them: decimal text, comma-separated lists, JSON objects, true/false.
var serviceSettings = {
  GRAPH_TENANT_ID: empty(graphTenantId) ? tenant().tenantId : graphTenantId
  GRAPH_CLIENT_ID: graphClientId
  GRAPH_BASE_URL: graphBaseUrl
  GRAPH_AUTHORITY_HOST: graphAuthorityHost
  GRAPH_SUBSCRIPTION_MINUTES: string(graphSubscriptionMinutes)
  ERP_BASE_URL: erpBaseUrl
  ERP_TIMEOUT_SECONDS: erpTimeoutSeconds
  STATE_TABLE_PREFIX: stateTablePrefix
  // The storage DNS suffix of the cloud deployed into (core.windows.net, core.usgovcloudapi.net, …).
  STORAGE_ENDPOINT_SUFFIX: environment().suffixes.storage
  SYNC_DIRECTION: syncDirection
  SYNC_DIRECTION_OVERRIDES: string(syncDirectionOverrides)
  SYNC_ACTIVITY_TYPES: join(syncActivityTypes, ',')
  SYNC_LEAVE_REQUESTS: syncLeaveRequests ? 'true' : 'false'
  SYNC_LEAVE_PRIVATE: syncLeavePrivate ? 'true' : 'false'
  SYNC_WINDOW_DAYS: string(syncWindowDays)
  SYNC_ERP_LOOKBACK_HOURS: string(syncErpLookbackHours)
  SYNC_CLOCK_SKEW_SECONDS: syncClockSkewSeconds
  SYNC_CONFLICT_CATEGORY: syncConflictCategory
  SYNC_INCLUDE_CATEGORIES: join(syncIncludeCategories, ',')
  STATUS_PAGE_ADMINS: join(statusPageAdmins, ',')
  SYNC_EXCLUDE_CATEGORIES: join(syncExcludeCategories, ',')
  SYNC_PRIVATE_EVENTS: syncPrivateEvents
  SYNC_INTERNAL_DOMAINS: join(syncInternalDomains, ',')
  SYNC_SKIP_INTERNAL_ONLY: syncSkipInternalOnly ? 'true' : 'false'
  SYNC_MASS_DELETE_RATIO: syncMassDeleteRatio
  SYNC_FIELD_OWNERSHIP: string(syncFieldOwnership)
  SYNC_OUTLOOK_FILES_FOR_ERP_ITEMS: join(syncOutlookFilesForErpItems, ',')
  SYNC_CLOSE_SCHEDULE: syncCloseSchedule
  SYNC_CLEANUP_SCHEDULE: syncCleanupSchedule
  SYNC_CLOSE_LOOKBACK_DAYS: string(syncCloseLookbackDays)
  SYNC_RETENTION_DAYS: string(syncRetentionDays)
}

module identity 'core/identity/user-assigned-identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainer
  }
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module alerts 'core/monitor/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    actionGroupName: 'ag-${resourceToken}'
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmailAddress: alertEmailAddress
    failedRunsPerHour: failedRunsPerHour
  }
}

module keyVault 'core/security/key-vault.bicep' = {
  name: 'keyVault'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    secretNames: secretNames
    graphClientSecret: graphClientSecret
    graphClientCertificate: graphClientCertificate
    graphClientState: graphClientState
    erpApiKey: erpApiKey
    erpHookSecret: erpHookSecret
  }
}

module plan 'core/host/flex-consumption-plan.bicep' = {
  name: 'plan'
  params: {
    name: 'plan-${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    identityPrincipalId: identity.outputs.principalId
    secretsOfficerPrincipalId: principalId
    secretsOfficerPrincipalType: principalType
    stateReaderPrincipalId: stateReaderPrincipalId
    stateReaderPrincipalType: stateReaderPrincipalType
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'functionApp'
  // Roles first: the deployment package, host storage and Key Vault references need them on first start.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    location: location
    tags: tags
    planId: plan.outputs.id
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainer
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultUri: keyVault.outputs.vaultUri
    secretNames: secretNames
    graphCredentialKind: graphCredentialKind
    serviceSettings: serviceSettings
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    statusPageClientId: statusPageClientId
  }
}

output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output GRAPH_NOTIFICATION_URL string = functionApp.outputs.graphNotificationUrl
output GRAPH_LIFECYCLE_URL string = functionApp.outputs.graphLifecycleUrl
output ERP_HOOK_URL string = functionApp.outputs.erpHookUrl
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
