# The Functions app (isolated .NET worker) on the Flex Consumption plan. The host storage, the
# deployment package and the ShortcutStorage connection all use the app's user-assigned identity.
# The runtime (dotnet-isolated) is runtime_name: Flex Consumption rejects a FUNCTIONS_WORKER_RUNTIME app setting.

resource "azurerm_service_plan" "functions" {
  name                = "plan-${var.name_prefix}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = var.tags
}

resource "azurerm_function_app_flex_consumption" "main" {
  name                = "func-${var.name_prefix}-${local.suffix}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  service_plan_id     = azurerm_service_plan.functions.id

  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.main.primary_blob_endpoint}${local.functions_package_container_name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.app["functions"].id

  runtime_name           = "dotnet-isolated"
  runtime_version        = var.functions_dotnet_version
  maximum_instance_count = var.functions_maximum_instance_count
  instance_memory_in_mb  = 2048

  https_only                                     = true
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app["functions"].id]
  }

  site_config {
    minimum_tls_version                    = "1.2"
    application_insights_connection_string = azurerm_application_insights.main.connection_string
  }

  app_settings = local.app_settings.functions
  tags         = var.tags

  depends_on = [azurerm_role_assignment.storage, azurerm_storage_container.all]
}
