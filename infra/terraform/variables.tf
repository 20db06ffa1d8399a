variable "resource_group_name" {
  type        = string
  description = "Existing resource group to deploy into (create it with `az group create`)."
}

variable "location" {
  type        = string
  default     = null
  description = "Azure region of every resource; defaults to the resource group's. Serverless GPUs exist in a subset of regions."
}

variable "name_prefix" {
  type        = string
  default     = "shortcut"
  description = "Short lowercase prefix (letters and digits) of every resource name."

  validation {
    condition     = can(regex("^[a-z0-9]{3,10}$", var.name_prefix))
    error_message = "name_prefix must be 3 to 10 lowercase letters or digits."
  }
}

variable "gpu_type" {
  type        = string
  default     = "T4"
  description = "The serverless GPU that the worker and the trainer run on: A100 or T4."

  validation {
    condition     = contains(["A100", "T4"], var.gpu_type)
    error_message = "gpu_type must be A100 or T4."
  }
}

variable "worker_min_replicas" {
  type        = number
  default     = 0
  description = "Fewest worker replicas; 0 lets the worker scale to zero when the work queue is empty."

  validation {
    condition     = var.worker_min_replicas >= 0
    error_message = "worker_min_replicas must be 0 or more."
  }
}

variable "worker_max_replicas" {
  type        = number
  default     = 4
  description = "Most worker replicas."

  validation {
    condition     = var.worker_max_replicas >= 1 && var.worker_max_replicas <= 100
    error_message = "worker_max_replicas must be between 1 and 100."
  }
}

variable "worker_queue_length_per_replica" {
  type        = number
  default     = 16
  description = "Work items per worker replica that the queue scaler aims for."

  validation {
    condition     = var.worker_queue_length_per_replica >= 1
    error_message = "worker_queue_length_per_replica must be 1 or more."
  }
}

variable "worker_cooldown_seconds" {
  type        = number
  default     = 120
  description = "Seconds the work queue must stay empty before the last worker replica (a GPU) goes; Container Apps' own default is 300."

  validation {
    condition     = var.worker_cooldown_seconds >= 0 && var.worker_cooldown_seconds <= 3600
    error_message = "worker_cooldown_seconds must be between 0 and 3600."
  }
}

variable "trainer_max_executions" {
  type        = number
  default     = 1
  description = "Training runs that may execute at the same time."

  validation {
    condition     = var.trainer_max_executions >= 1
    error_message = "trainer_max_executions must be 1 or more."
  }
}

variable "trainer_timeout_seconds" {
  type        = number
  default     = 14400
  description = "Longest a training run may take, in seconds."

  validation {
    condition     = var.trainer_timeout_seconds >= 60
    error_message = "trainer_timeout_seconds must be 60 or more."
  }
}

variable "functions_maximum_instance_count" {
  type        = number
  default     = 40
  description = "Most instances of the Functions app."

  validation {
    condition     = var.functions_maximum_instance_count >= 1 && var.functions_maximum_instance_count <= 1000
    error_message = "functions_maximum_instance_count must be between 1 and 1000."
  }
}

variable "functions_dotnet_version" {
  type        = string
  default     = "10.0"
  description = "The .NET version of the Functions app's isolated worker."
}

variable "training_schedule" {
  type        = string
  default     = "0 0 3 * * *"
  description = "NCRONTAB schedule (six fields, seconds first) of the training timer function (app setting Training__Schedule)."
}

variable "training_interval" {
  type        = string
  default     = "7.00:00:00"
  description = "How long after a model's last successful training run a new one is due, as a TimeSpan (Training__Interval)."
}

variable "training_request" {
  type        = string
  default     = "{\"model\":\"fashion\",\"preset\":\"DiT-Small/4\",\"dataset\":\"blob:fashion-mnist\",\"steps\":20000,\"batchSize\":128,\"checkpointEvery\":1000}"
  description = "The training request (JSON without a runId) the timer launches (Training__Request); empty: none. The default trains on the Fashion-MNIST IDX files uploaded to datasets/fashion-mnist/."
}

variable "image_tag" {
  type        = string
  default     = "latest"
  description = "Tag of the GPU image (shortcut: the worker app and the trainer job) in the registry (see infra/README.md for building it)."
}

variable "deploy_container_apps" {
  type        = bool
  default     = true
  description = "False on the first apply, before the image exists in the new registry; true afterwards."
}

variable "operator_principal_id" {
  type        = string
  default     = ""
  description = "Object id of the operator (`az ad signed-in-user show --query id -o tsv`), who gets Storage Blob, Queue and Table Data Contributor on the storage account: shared keys are off, so the CLI and dataset uploads need them. Empty: nobody."
}

variable "operator_principal_type" {
  type        = string
  default     = "User"
  description = "What operator_principal_id is: User, Group or ServicePrincipal."

  validation {
    condition     = contains(["User", "Group", "ServicePrincipal"], var.operator_principal_type)
    error_message = "operator_principal_type must be User, Group or ServicePrincipal."
  }
}

variable "callback_signing_secret" {
  type        = string
  default     = ""
  sensitive   = true
  nullable    = false
  description = "The secret that signs job callbacks (HMAC-SHA256, ShortcutPipeline__Callbacks__SigningSecret); receivers verify them with the same one. The Functions app (cancelled jobs) gets it as an app setting, the worker (completed and failed jobs) as a container app secret; the trainer sends no callbacks. Empty: neither is created, callbacks go out unsigned and the apps log a warning."
}

variable "tags" {
  type = map(string)
  default = {
    application = "shortcut-pipeline"
  }
}
