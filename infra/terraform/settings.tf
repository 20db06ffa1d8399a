# The app settings (environment variables) that each app reads. The names mirror
# src/ShortcutPipeline.Core/SettingNames.cs; the infrastructure tests check that they agree.

locals {
  # The identity-based form of the ShortcutStorage connection (StorageNames.ConnectionName), less the client id.
  shortcut_storage_settings = {
    ShortcutStorage__blobServiceUri  = azurerm_storage_account.main.primary_blob_endpoint
    ShortcutStorage__queueServiceUri = azurerm_storage_account.main.primary_queue_endpoint
    ShortcutStorage__tableServiceUri = azurerm_storage_account.main.primary_table_endpoint
    ShortcutStorage__credential      = "managedidentity"
  }

  app_own_settings = {
    functions = {
      ShortcutStorage__clientId = azurerm_user_assigned_identity.app["functions"].client_id
      # azurerm_function_app_flex_consumption writes a connection-string AzureWebJobsStorage with an
      # empty key even when the storage authentication is an identity; the empty value keeps the
      # host on the identity-based settings below (see infra/README.md).
      AzureWebJobsStorage                 = ""
      AzureWebJobsStorage__blobServiceUri  = azurerm_storage_account.main.primary_blob_endpoint
      AzureWebJobsStorage__queueServiceUri = azurerm_storage_account.main.primary_queue_endpoint
      AzureWebJobsStorage__tableServiceUri = azurerm_storage_account.main.primary_table_endpoint
      AzureWebJobsStorage__credential      = "managedidentity"
      AzureWebJobsStorage__clientId        = azurerm_user_assigned_identity.app["functions"].client_id
      # The training timer's settings (TrainingScheduleOptions, section "Training"); the host needs Training__Schedule to start.
      Training__Schedule = var.training_schedule
      Training__Interval = var.training_interval
      Training__Request  = var.training_request
    }
    worker = {
      ShortcutStorage__clientId             = azurerm_user_assigned_identity.app["worker"].client_id
      APPLICATIONINSIGHTS_CONNECTION_STRING = azurerm_application_insights.main.connection_string
    }
    trainer = {
      ShortcutStorage__clientId             = azurerm_user_assigned_identity.app["trainer"].client_id
      APPLICATIONINSIGHTS_CONNECTION_STRING = azurerm_application_insights.main.connection_string
    }
  }

  app_settings = {
    functions = merge(local.shortcut_storage_settings, local.app_own_settings.functions)
    worker    = merge(local.shortcut_storage_settings, local.app_own_settings.worker)
    trainer   = merge(local.shortcut_storage_settings, local.app_own_settings.trainer)
  }
}
