# The Functions app (isolated .NET worker) on the Flex Consumption plan. The host storage, the
# deployment package and the ShortcutStorage connection all use the app's user-assigned identity.
#
# The app is an azapi resource with the Bicep stack's body: azurerm_function_app_flex_consumption writes a
# connection-string AzureWebJobsStorage of its own (with an empty key) even when storage authentication is an
# identity (hashicorp/terraform-provider-azurerm#29693, #30732), and overriding it with "" is reported to keep
# .NET 10 hosts from starting and never converges (every apply restarts the app). Here the app settings are
# exactly the ones below; Resource Manager does not return them on read, and azapi ignores properties that are
# not returned, so a plan shows no drift. On Flex Consumption the runtime (dotnet-isolated) is
# functionAppConfig.runtime: the platform rejects a FUNCTIONS_WORKER_RUNTIME app setting.

resource "azurerm_service_plan" "functions" {
  name                = "plan-${var.name_prefix}"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.main.name
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = var.tags
}

resource "azapi_resource" "functions" {
  type      = "Microsoft.Web/sites@2024-04-01"
  name      = "func-${var.name_prefix}-${local.suffix}"
  parent_id = data.azurerm_resource_group.main.id
  location  = local.location
  tags      = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app["functions"].id]
  }

  body = {
    kind = "functionapp,linux"
    properties = {
      serverFarmId = azurerm_service_plan.functions.id
      httpsOnly    = true
      siteConfig = {
        # With the callback signing secret when one is given (see settings.tf). Flex Consumption keeps app settings
        # encrypted at rest; a Key Vault reference (@Microsoft.KeyVault(...)) as the value would be the stronger form.
        minTlsVersion = "1.2"
        appSettings   = concat([for name, value in local.app_settings.functions : { name = name, value = value }], local.functions_callback_settings)
      }
      functionAppConfig = {
        deployment = {
          storage = {
            type  = "blobContainer"
            value = "${azurerm_storage_account.main.primary_blob_endpoint}${local.functions_package_container_name}"
            authentication = {
              type                           = "UserAssignedIdentity"
              userAssignedIdentityResourceId = azurerm_user_assigned_identity.app["functions"].id
            }
          }
        }
        scaleAndConcurrency = {
          maximumInstanceCount = var.functions_maximum_instance_count
          instanceMemoryMB     = 2048
        }
        runtime = {
          name    = "dotnet-isolated"
          version = var.functions_dotnet_version
        }
      }
    }
  }

  response_export_values = ["properties.defaultHostName"]

  depends_on = [azurerm_role_assignment.storage, azurerm_storage_container.all]
}

# Basic-auth publishing (the scm site's user name and password) is off: deployments use Entra ID. Flex
# Consumption has no FTP, so there is no ftp policy to turn off.
resource "azapi_resource" "functions_scm_basic_auth" {
  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = "scm"
  parent_id = azapi_resource.functions.id
  body = {
    properties = {
      allow = false
    }
  }
}
