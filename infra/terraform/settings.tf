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

  # The port of the worker's and the trainer's health server (ShortcutPipeline__Health__Port), which the probes call.
  health_port = 8080

  # The worker's and the trainer's settings besides their identity: Application Insights and the health port.
  gpu_app_settings = {
    APPLICATIONINSIGHTS_CONNECTION_STRING = azurerm_application_insights.main.connection_string
    ShortcutPipeline__Health__Port        = tostring(local.health_port)
  }

  app_own_settings = {
    functions = {
      ShortcutStorage__clientId             = azurerm_user_assigned_identity.app["functions"].client_id
      APPLICATIONINSIGHTS_CONNECTION_STRING = azurerm_application_insights.main.connection_string
      # Host storage through the identity only: no AzureWebJobsStorage setting at all (see functions.tf).
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
      ShortcutStorage__clientId = azurerm_user_assigned_identity.app["worker"].client_id
    }
    trainer = {
      ShortcutStorage__clientId = azurerm_user_assigned_identity.app["trainer"].client_id
    }
  }

  # The secret that signs job callbacks (CallbackOptions.SigningSecret), only when one is given. The Functions app
  # (cancelled jobs) gets it as an app setting; the worker (completed and failed jobs) as a container app secret that
  # its environment variable references, never as a plain value; the trainer sends no callbacks and gets nothing.
  # Whether a secret is given is no secret: nonsensitive() keeps plans from hiding the bodies that depend on it.
  callback_signing_setting     = "ShortcutPipeline__Callbacks__SigningSecret"
  callback_signing_secret_name = "callback-signing-secret"
  callback_signing             = nonsensitive(var.callback_signing_secret != "")
  functions_callback_settings  = local.callback_signing ? [{ name = local.callback_signing_setting, value = var.callback_signing_secret }] : []
  # null: the worker's body has no secrets property at all (azapi's ignore_null_property leaves it out).
  worker_secrets      = local.callback_signing ? [{ name = local.callback_signing_secret_name, value = var.callback_signing_secret }] : null
  worker_callback_env = local.callback_signing ? [{ name = local.callback_signing_setting, secretRef = local.callback_signing_secret_name }] : []

  app_settings = {
    functions = merge(local.shortcut_storage_settings, local.app_own_settings.functions)
    worker    = merge(local.shortcut_storage_settings, local.gpu_app_settings, local.app_own_settings.worker)
    trainer   = merge(local.shortcut_storage_settings, local.gpu_app_settings, local.app_own_settings.trainer)
  }

  # The worker's and the trainer's probes on their health server: GET /healthz (the process is alive) and GET
  # /readyz (it can take work). The startup probe holds the other two off while the host starts (the .NET host,
  # libtorch and the CUDA libraries load): 10 tries (Container Apps' most) 15 s apart. Liveness restarts a
  # replica that stops answering for 90 s; readiness marks one that is not ready. The same as Bicep's healthProbes.
  health_probes = [
    {
      type                = "Startup"
      httpGet             = { path = "/healthz", port = local.health_port }
      initialDelaySeconds = 5
      periodSeconds       = 15
      timeoutSeconds      = 5
      failureThreshold    = 10
    },
    {
      type             = "Liveness"
      httpGet          = { path = "/healthz", port = local.health_port }
      periodSeconds    = 30
      timeoutSeconds   = 5
      failureThreshold = 3
    },
    {
      type             = "Readiness"
      httpGet          = { path = "/readyz", port = local.health_port }
      periodSeconds    = 10
      timeoutSeconds   = 5
      failureThreshold = 3
    },
  ]
}
