// The Function App on Flex Consumption, its identity-based storage connection and every app setting.
// Settings the code reads come from shared/settings.py; tests/infra checks this file against it.
param name string
param location string
param tags object = {}
param planId string

@description('Resource id and client id of the user-assigned identity used for every connection.')
param identityId string
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param applicationInsightsName string

param keyVaultUri string
@description('Key Vault secret names, keyed like main.bicep\'s secretNames.')
param secretNames object

@description('Which Graph credential the app uses: exactly one of GRAPH_CLIENT_SECRET / GRAPH_CLIENT_CERTIFICATE is set.')
@allowed([
  'secret'
  'certificate'
])
param graphCredentialKind string

@description('Plain (non-secret) settings built in main.bicep: Graph and ERP endpoints, state and sync policy.')
param serviceSettings object

// The Python versions Flex Consumption runs (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan);
// the project is tested on 3.11.
@allowed([
  '3.10'
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Application (client) id of the app registration admins sign in with to open the status page (App Service authentication). Empty: sign-in not configured.')
param statusPageClientId string = ''

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the deploy target by this tag (service "api" in azure.yaml).
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: planId
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }

  // Deployments use Entra ID (azd, az functionapp deployment); basic publishing credentials stay off.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(
      serviceSettings,
      storageSettings,
      callbackSettings,
      secretSettings,
      graphCredentialSettings,
      hostOnlySettings,
      signInSettings
    )
  }

  // App Service authentication: Entra ID sign-in for the status page, which admits people by the roles or groups
  // in STATUS_PAGE_ADMINS (shared/admin/auth.py). Not configured (no statusPageClientId): no sign-in, and the page
  // answers 401 to everyone. Docs: docs/deploy.md, "Sign-in for the status page".
  resource authSettings 'config' = if (statusPageSignIn) {
    name: 'authsettingsV2'
    // The client secret's setting must exist before authentication is turned on.
    dependsOn: [
      appSettings
    ]
    properties: {
      platform: {
        enabled: true
      }
      globalValidation: {
        // Graph and the ERP cannot sign in, and /api/health is anonymous: requests without a session reach the
        // app, each webhook checks its caller itself and the status page answers them 401.
        requireAuthentication: false
        unauthenticatedClientAction: 'AllowAnonymous'
      }
      httpSettings: {
        requireHttps: true
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            clientId: statusPageClientId
            // A client secret (Key Vault reference): without one, sign-in would use the implicit grant flow, which
            // Microsoft does not recommend.
            clientSecretSettingName: signInSecretSettingName
            openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          }
          validation: {
            allowedAudiences: [
              statusPageClientId
            ]
          }
        }
      }
      login: {
        // The app reads only the signed-in person's claims (X-MS-CLIENT-PRINCIPAL), never their tokens.
        tokenStore: {
          enabled: false
        }
      }
    }
  }
}

// Identity-based host storage; the same account holds the sync state (tables) and the work queue.
// The plain AzureWebJobsStorage connection string is for local runs only and is never set here.
var storageSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
}

// Graph calls these routes; their URLs are only known once the site has its host name.
var publicBaseUrl = 'https://${functionApp.properties.defaultHostName}'
var callbackSettings = {
  GRAPH_NOTIFICATION_URL: '${publicBaseUrl}/api/graph/notifications'
  GRAPH_LIFECYCLE_URL: '${publicBaseUrl}/api/graph/lifecycle'
}

// Secrets never appear in settings: only versionless Key Vault references (the latest version is used).
var secretSettings = {
  GRAPH_CLIENT_STATE: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.graphClientState}/)'
  ERP_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.erpApiKey}/)'
  ERP_HOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.erpHookSecret}/)'
}

// The code requires exactly one Graph credential, so only the chosen one is set.
var graphClientSecretReference = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.graphClientSecret}/)'
var graphClientCertificateReference = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.graphClientCertificate}/)'
var graphCredentialSettings = graphCredentialKind == 'certificate' ? { GRAPH_CLIENT_CERTIFICATE: graphClientCertificateReference } : { GRAPH_CLIENT_SECRET: graphClientSecretReference }

// Read by the Functions host, not by our code: telemetry sent with the identity's Entra ID token.
var hostOnlySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The worker streams its own OpenTelemetry logs (shared/telemetry.py); the host does not log them again.
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
}

// Read by App Service authentication, set only when the status page's sign-in is configured: the client secret of
// the sign-in app registration (not the Graph app's), as a Key Vault reference like the other secrets.
var statusPageSignIn = !empty(statusPageClientId)
var signInSecretSettingName = 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'
var signInSecretReference = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.statusPageClientSecret}/)'
var signInSettings = statusPageSignIn ? { MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: signInSecretReference } : {}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output graphNotificationUrl string = callbackSettings.GRAPH_NOTIFICATION_URL
output graphLifecycleUrl string = callbackSettings.GRAPH_LIFECYCLE_URL
output erpHookUrl string = '${publicBaseUrl}/api/erp/hook'
