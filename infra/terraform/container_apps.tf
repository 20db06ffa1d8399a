# The Container Apps environment, the GPU worker app and the trainer job. These three are azapi
# resources: azurerm cannot create a serverless GPU workload profile (it sends minimum/maximum counts
# that the API rejects for Consumption-GPU profiles), and its queue scale rules authenticate only with
# a secret (a storage connection string, which needs shared-key access), not with a managed identity.
# The bodies are the same as the Bicep stack's; the infrastructure tests check them against the
# Resource Manager types that the Bicep CLI carries. See infra/README.md.

resource "azapi_resource" "container_environment" {
  type      = "Microsoft.App/managedEnvironments@2025-01-01"
  name      = "cae-${var.name_prefix}"
  parent_id = data.azurerm_resource_group.main.id
  location  = local.location
  tags      = var.tags

  body = {
    properties = {
      appLogsConfiguration = {
        destination = "log-analytics"
        logAnalyticsConfiguration = {
          customerId = azurerm_log_analytics_workspace.main.workspace_id
          sharedKey  = azurerm_log_analytics_workspace.main.primary_shared_key
        }
      }
      workloadProfiles = [
        {
          name                = "Consumption"
          workloadProfileType = "Consumption"
        },
        {
          name                = local.gpu_profile_name
          workloadProfileType = local.gpu.workload_profile_type
        },
      ]
    }
  }
}

resource "azapi_resource" "worker" {
  count     = var.deploy_container_apps ? 1 : 0
  type      = "Microsoft.App/containerApps@2025-01-01"
  name      = "ca-${var.name_prefix}-worker"
  parent_id = data.azurerm_resource_group.main.id
  location  = local.location
  tags      = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app["worker"].id]
  }

  # Leaves configuration.secrets out of the request when no callback signing secret is given (local.worker_secrets).
  ignore_null_property = true

  body = {
    properties = {
      environmentId       = azapi_resource.container_environment.id
      workloadProfileName = local.gpu_profile_name
      configuration = {
        activeRevisionsMode = "Single"
        registries = [
          {
            server   = azurerm_container_registry.main.login_server
            identity = azurerm_user_assigned_identity.app["worker"].id
          },
        ]
        # The callback signing secret, only when one is given (see settings.tf).
        secrets = local.worker_secrets
      }
      template = {
        # On SIGTERM the worker finishes its batch (ShortcutPipeline__Worker__ShutdownTimeout, 120 s by default).
        terminationGracePeriodSeconds = 150
        containers = [
          {
            name  = "worker"
            image = "${azurerm_container_registry.main.login_server}/shortcut:${var.image_tag}"
            args  = ["worker"]
            resources = {
              cpu    = local.gpu.cpu
              memory = local.gpu.memory
            }
            env    = concat([for name, value in local.app_settings.worker : { name = name, value = value }], local.worker_callback_env)
            probes = local.health_probes
          },
        ]
        scale = {
          minReplicas    = var.worker_min_replicas
          maxReplicas    = var.worker_max_replicas
          cooldownPeriod = var.worker_cooldown_seconds
          rules = [
            {
              name = "work-queue"
              azureQueue = {
                accountName = azurerm_storage_account.main.name
                queueName   = "generation-work"
                queueLength = var.worker_queue_length_per_replica
                identity    = azurerm_user_assigned_identity.app["worker"].id
              }
            },
          ]
        }
      }
    }
  }

  depends_on = [azurerm_role_assignment.acr_pull, azurerm_role_assignment.storage]
}

resource "azapi_resource" "trainer" {
  count     = var.deploy_container_apps ? 1 : 0
  type      = "Microsoft.App/jobs@2025-01-01"
  name      = "caj-${var.name_prefix}-trainer"
  parent_id = data.azurerm_resource_group.main.id
  location  = local.location
  tags      = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app["trainer"].id]
  }

  body = {
    properties = {
      environmentId       = azapi_resource.container_environment.id
      workloadProfileName = local.gpu_profile_name
      configuration = {
        triggerType       = "Event"
        replicaTimeout    = var.trainer_timeout_seconds
        replicaRetryLimit = 1
        registries = [
          {
            server   = azurerm_container_registry.main.login_server
            identity = azurerm_user_assigned_identity.app["trainer"].id
          },
        ]
        eventTriggerConfig = {
          parallelism            = 1
          replicaCompletionCount = 1
          scale = {
            minExecutions   = 0
            maxExecutions   = var.trainer_max_executions
            pollingInterval = 30
            rules = [
              {
                name = "training-queue"
                type = "azure-queue"
                metadata = {
                  accountName = azurerm_storage_account.main.name
                  queueName   = "training-runs"
                  queueLength = "1"
                }
                identity = azurerm_user_assigned_identity.app["trainer"].id
              },
            ]
          }
        }
      }
      template = {
        containers = [
          {
            name  = "trainer"
            image = "${azurerm_container_registry.main.login_server}/shortcut:${var.image_tag}"
            # One training request, then the job's execution ends.
            args = ["trainer", "--once"]
            resources = {
              cpu    = local.gpu.cpu
              memory = local.gpu.memory
            }
            # The trainer sends no callbacks: no callback signing secret.
            env    = [for name, value in local.app_settings.trainer : { name = name, value = value }]
            probes = local.health_probes
          },
        ]
      }
    }
  }

  depends_on = [azurerm_role_assignment.acr_pull, azurerm_role_assignment.storage]
}
