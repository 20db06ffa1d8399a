# The pipeline's Storage account: queues (with their poison queues), blob containers and tables, and
# the data-plane roles of the apps' identities. Shared-key access is off: every client uses Entra ID.
# The names mirror src/ShortcutPipeline.Core/StorageNames.cs; the infrastructure tests check that they agree.

locals {
  queue_names = [
    "generation-jobs",
    "generation-jobs-poison",
    "generation-work",
    "generation-work-poison",
    "training-runs",
    "training-runs-poison",
  ]

  functions_package_container_name = "functions-package"

  container_names = [
    "images",
    "checkpoints",
    "datasets",
    local.functions_package_container_name,
  ]

  table_names = [
    "jobs",
    "runs",
  ]

  storage_role_assignments = {
    functions-blob  = { principal_id = azurerm_user_assigned_identity.app["functions"].principal_id, role = "Storage Blob Data Owner" }
    functions-queue = { principal_id = azurerm_user_assigned_identity.app["functions"].principal_id, role = "Storage Queue Data Contributor" }
    functions-table = { principal_id = azurerm_user_assigned_identity.app["functions"].principal_id, role = "Storage Table Data Contributor" }
    worker-blob     = { principal_id = azurerm_user_assigned_identity.app["worker"].principal_id, role = "Storage Blob Data Contributor" }
    worker-queue    = { principal_id = azurerm_user_assigned_identity.app["worker"].principal_id, role = "Storage Queue Data Contributor" }
    worker-table    = { principal_id = azurerm_user_assigned_identity.app["worker"].principal_id, role = "Storage Table Data Contributor" }
    trainer-blob    = { principal_id = azurerm_user_assigned_identity.app["trainer"].principal_id, role = "Storage Blob Data Contributor" }
    trainer-queue   = { principal_id = azurerm_user_assigned_identity.app["trainer"].principal_id, role = "Storage Queue Data Contributor" }
    trainer-table   = { principal_id = azurerm_user_assigned_identity.app["trainer"].principal_id, role = "Storage Table Data Contributor" }
  }

  # What the operator needs for the deploy guide: upload datasets and models, enqueue, read status and images.
  operator_data_roles = [
    "Storage Blob Data Contributor",
    "Storage Queue Data Contributor",
    "Storage Table Data Contributor",
  ]
}

resource "azurerm_storage_account" "main" {
  name                            = substr("st${var.name_prefix}${local.suffix}", 0, 24)
  location                        = local.location
  resource_group_name             = data.azurerm_resource_group.main.name
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  access_tier                     = "Hot"
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  tags                            = var.tags
}

resource "azurerm_storage_container" "all" {
  for_each              = toset(local.container_names)
  name                  = each.value
  storage_account_id    = azurerm_storage_account.main.id
  container_access_type = "private"
}

resource "azurerm_storage_queue" "all" {
  for_each           = toset(local.queue_names)
  name               = each.value
  storage_account_id = azurerm_storage_account.main.id
}

# azurerm_storage_table reaches tables only through the storage data plane (shared key or the
# deployer's own data role); azapi creates them through Resource Manager, as Bicep does.
resource "azapi_resource" "table" {
  for_each  = toset(local.table_names)
  type      = "Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01"
  name      = each.value
  parent_id = "${azurerm_storage_account.main.id}/tableServices/default"
  body      = {}
}

resource "azurerm_role_assignment" "storage" {
  for_each                         = local.storage_role_assignments
  scope                            = azurerm_storage_account.main.id
  role_definition_name             = each.value.role
  principal_id                     = each.value.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The operator's data roles: shared keys are off, so the CLI (models register, enqueue, wait, download) and
# dataset uploads reach the storage account with the operator's own Entra ID identity.
resource "azurerm_role_assignment" "operator" {
  for_each             = var.operator_principal_id == "" ? toset([]) : toset(local.operator_data_roles)
  scope                = azurerm_storage_account.main.id
  role_definition_name = each.value
  principal_id         = var.operator_principal_id
  principal_type       = var.operator_principal_type
}
