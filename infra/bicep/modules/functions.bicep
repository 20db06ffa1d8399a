// The Functions app (isolated .NET worker) on the Flex Consumption plan. The host storage
// (AzureWebJobsStorage), the deployment package and the ShortcutStorage connection all use the
// app's user-assigned identity. On Flex Consumption the runtime (dotnet-isolated) is declared in
// functionAppConfig.runtime: the platform rejects a FUNCTIONS_WORKER_RUNTIME app setting.

import { callbackSigningSetting, identityInfo, nameValue, shortcutStorageSettings } from 'settings.bicep'

param location string
param namePrefix string
param tags object
param identity identityInfo
param blobServiceUri string
param queueServiceUri string
param tableServiceUri string
param packageContainerName string
param appInsightsConnectionString string

@description('The .NET version of the isolated worker.')
param dotnetVersion string

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('NCRONTAB schedule of the training timer.')
param trainingSchedule string

@description('Interval after which a model\'s training run is due (TimeSpan).')
param trainingInterval string

@description('The training request the timer launches (JSON); empty: none.')
param trainingRequest string

@description('Whether callbackSigningSecret is given (it is not empty).')
param signCallbacks bool

@description('The secret that signs the callbacks of cancelled jobs; empty: no setting, and callbacks go out unsigned.')
@secure()
param callbackSigningSecret string

// The training timer's settings (TrainingScheduleOptions, section "Training"); the host needs Training__Schedule to start.
var trainingSettings = [
  { name: 'Training__Schedule', value: trainingSchedule }
  { name: 'Training__Interval', value: trainingInterval }
  { name: 'Training__Request', value: trainingRequest }
]

var hostStorageSettings = [
  { name: 'AzureWebJobsStorage__blobServiceUri', value: blobServiceUri }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: queueServiceUri }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: tableServiceUri }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.clientId }
]

var appSettings nameValue[] = concat(
  hostStorageSettings,
  [{ name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }],
  shortcutStorageSettings(blobServiceUri, queueServiceUri, tableServiceUri, identity.clientId),
  trainingSettings,
  // The callback signing secret, only when one is given. Flex Consumption keeps app settings encrypted at rest; a
  // Key Vault reference (@Microsoft.KeyVault(...)) as the value would keep it out of the site's configuration.
  signCallbacks ? [{ name: callbackSigningSetting, value: callbackSigningSecret }] : []
)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${namePrefix}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${namePrefix}-${uniqueString(resourceGroup().id)}'
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: appSettings
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobServiceUri}${packageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'dotnet-isolated'
        version: dotnetVersion
      }
    }
  }
}

// Basic-auth publishing (the scm site's user name and password) is off: deployments use Entra ID. Flex
// Consumption has no FTP, so there is no ftp policy to turn off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
