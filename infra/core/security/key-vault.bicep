// Key Vault for the Graph credential, the Graph clientState and the ERP credentials.
// RBAC mode (no access policies) and purge protection; the app reads secrets through Key Vault references.
param name string
param location string
param tags object = {}

@description('Secret names the app settings reference. The values are set by the tenant admin (see docs/deploy.md) or below.')
param secretNames object

// Optional initial values. Empty means "leave the secret as it is" so a redeploy never wipes a value
// that an admin put in the vault by hand.
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource graphClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientSecret)) {
  parent: vault
  name: secretNames.graphClientSecret
  properties: {
    value: graphClientSecret
    contentType: 'text/plain'
  }
}

resource graphClientCertificateValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientCertificate)) {
  parent: vault
  name: secretNames.graphClientCertificate
  properties: {
    value: graphClientCertificate
    contentType: 'application/x-pem-file'
  }
}

resource graphClientStateValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientState)) {
  parent: vault
  name: secretNames.graphClientState
  properties: {
    value: graphClientState
    contentType: 'text/plain'
  }
}

resource erpApiKeyValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(erpApiKey)) {
  parent: vault
  name: secretNames.erpApiKey
  properties: {
    value: erpApiKey
    contentType: 'text/plain'
  }
}

resource erpHookSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(erpHookSecret)) {
  parent: vault
  name: secretNames.erpHookSecret
  properties: {
    value: erpHookSecret
    contentType: 'text/plain'
  }
}

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri
