// Shared shapes and the app settings that every app of the pipeline reads.
// The names mirror src/ShortcutPipeline.Core/SettingNames.cs; the infrastructure tests check that they agree.

@export()
@description('One app setting or container environment variable.')
type nameValue = {
  name: string
  value: string
}

@export()
@description('The identity-based form of the ShortcutStorage connection (StorageNames.ConnectionName) for one managed identity.')
func shortcutStorageSettings(blobServiceUri string, queueServiceUri string, tableServiceUri string, clientId string) nameValue[] => [
  { name: 'ShortcutStorage__blobServiceUri', value: blobServiceUri }
  { name: 'ShortcutStorage__queueServiceUri', value: queueServiceUri }
  { name: 'ShortcutStorage__tableServiceUri', value: tableServiceUri }
  { name: 'ShortcutStorage__credential', value: 'managedidentity' }
  { name: 'ShortcutStorage__clientId', value: clientId }
]

@export()
@description('A role to grant one principal.')
type roleGrant = {
  @description('Object id of the principal (a managed identity).')
  principalId: string
  @description('Role definition GUID.')
  roleDefinitionId: string
}

@export()
@description('Built-in role definition GUIDs.')
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

@export()
@description('What the other modules need of one user-assigned managed identity.')
type identityInfo = {
  @description('Resource id.')
  id: string
  @description('Client (application) id, for the apps\' credential settings.')
  clientId: string
  @description('Object id, for role assignments.')
  principalId: string
}
