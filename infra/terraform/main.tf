# ShortcutPipeline on Azure, the same system as infra/bicep/main.bicep: Storage (queues, containers,
# tables), the Functions app (Flex Consumption, dotnet-isolated), a Container Apps environment with a
# serverless GPU profile, the GPU worker (KEDA azure-queue scaling on the work queue), the trainer
# (event-triggered job on the training queue), a container registry, one user-assigned identity per
# app with its roles, Log Analytics and Application Insights.

data "azurerm_resource_group" "main" {
  name = var.resource_group_name
}

locals {
  location = coalesce(var.location, data.azurerm_resource_group.main.location)
  suffix   = substr(sha256(data.azurerm_resource_group.main.id), 0, 13)

  gpu_profiles = {
    A100 = {
      workload_profile_type = "Consumption-GPU-NC24-A100"
      cpu                   = 24
      memory                = "220Gi"
    }
    T4 = {
      workload_profile_type = "Consumption-GPU-NC8as-T4"
      cpu                   = 8
      memory                = "56Gi"
    }
  }
  gpu              = local.gpu_profiles[var.gpu_type]
  app_names        = ["functions", "worker", "trainer"]
  gpu_profile_name = "gpu"
}

resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-${var.name_prefix}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = var.tags
}

resource "azurerm_application_insights" "main" {
  name                = "appi-${var.name_prefix}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  workspace_id        = azurerm_log_analytics_workspace.main.id
  application_type    = "web"
  tags                = var.tags
}

# One user-assigned identity per app.
resource "azurerm_user_assigned_identity" "app" {
  for_each            = toset(local.app_names)
  name                = "id-${var.name_prefix}-${each.value}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_container_registry" "main" {
  name                = "cr${var.name_prefix}${local.suffix}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  sku                 = "Basic"
  admin_enabled       = false
  tags                = var.tags
}

locals {
  image_pullers = {
    worker  = azurerm_user_assigned_identity.app["worker"].principal_id
    trainer = azurerm_user_assigned_identity.app["trainer"].principal_id
  }
}

resource "azurerm_role_assignment" "acr_pull" {
  for_each                         = local.image_pullers
  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPull"
  principal_id                     = each.value
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
