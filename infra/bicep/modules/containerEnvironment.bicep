// The Container Apps environment (workload-profiles type) with the Consumption profile and one
// serverless GPU profile, named 'gpu', that the worker app and the trainer job run on.

param location string
param namePrefix string
param tags object
param logAnalyticsWorkspaceName string

@description('The serverless GPU workload profile type (Consumption-GPU-NC24-A100 or Consumption-GPU-NC8as-T4).')
param gpuProfileType string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: 'cae-${namePrefix}'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: 'gpu'
        workloadProfileType: gpuProfileType
      }
    ]
  }
}

output id string = environment.id
output gpuProfileName string = 'gpu'
