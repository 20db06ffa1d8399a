// Example parameters: copy, adjust and pass with `az deployment group create --parameters <file>`.
using 'main.bicep'

param namePrefix = 'shortcut'
param gpuType = 'T4'
param workerMinReplicas = 0
param workerMaxReplicas = 4
param workerQueueLengthPerReplica = 16
param workerCooldownSeconds = 120
param trainerMaxExecutions = 1
param trainerTimeoutSeconds = 14400
param functionsMaximumInstanceCount = 40
param trainingSchedule = '0 0 3 * * *'
param trainingInterval = '7.00:00:00'
param trainingRequest = '{"model":"fashion","preset":"DiT-Small/4","dataset":"blob:fashion-mnist","steps":20000,"batchSize":128,"checkpointEvery":1000}'
param imageTag = 'latest'
param deployContainerApps = true
// Your object id: az ad signed-in-user show --query id -o tsv (or pass --parameters operatorPrincipalId=...).
param operatorPrincipalId = ''
param operatorPrincipalType = 'User'
