// Example parameters: copy, adjust and pass with `az deployment group create --parameters <file>`.
using 'main.bicep'

param namePrefix = 'shortcut'
param gpuType = 'T4'
param workerMinReplicas = 0
param workerMaxReplicas = 4
param workerQueueLengthPerReplica = 16
param trainerMaxExecutions = 1
param trainerTimeoutSeconds = 14400
param functionsMaximumInstanceCount = 40
param imageTag = 'latest'
param deployContainerApps = true
